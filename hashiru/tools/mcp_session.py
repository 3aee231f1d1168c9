"""One MCP server's session for the life of the process: started on first use, restarted once.

The `mcp` package's transports and ClientSession are async context managers whose task groups
and cancel scopes must be entered and left in one task. So each connection runs in a task of
its own that opens them, lists the server's tools and then waits to be told to stop; calls from
any task go through the open session. A connection that breaks (the process exits, the HTTP
server goes away) is closed and the next use starts a new one, once: a server that stopped twice
is down for the rest of the process, and says why.

A stdio server gets the environment it is configured with on top of a minimal safe base (PATH,
HOME, USER, SHELL, TERM, LOGNAME from the `mcp` package; LANG and the LC_ settings from here),
never the rest of HASHIRU's: API keys stay in this process. Its stderr goes to a temporary file,
whose last lines explain a server that would not start. Every message this module writes has
the configured `env` and `headers` values replaced by `***`.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from hashiru.errors import McpError
from hashiru.settings import McpServerSettings

STARTS = 2
"""A server is started at most this often per process: the first start and one restart."""
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest message an HTTP server may stream (an SSE event); results are capped later."""
STDERR_TAIL = 600
"""The characters of a server's stderr quoted when it fails."""
_LOCALE = ("LANG", "LC_ALL", "LC_CTYPE")


class ServerSession:
    """One configured server: its live connection (if any), how often it started, and why it
    is down."""

    def __init__(self, name: str, config: McpServerSettings) -> None:
        self.name = name
        self.config = config
        self.error: str | None = None  # why it did not start, or why it stopped
        values = [s.get_secret_value() for s in (*config.env.values(), *config.headers.values())]
        words = {word for value in values for word in value.split() if len(word) >= 8}
        # longest first, so a secret containing another is masked whole
        self._secrets = sorted({v for v in values if len(v) >= 4} | words, key=len, reverse=True)
        self._live: _Connection | None = None
        self._starts = 0
        self._lock = asyncio.Lock()

    def redact(self, text: str) -> str:
        """`text` with every configured env and header value (of 4+ characters), and each
        word of 8+ characters in one (the token of `Bearer <token>`), as ***."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def tools(self) -> list[types.Tool]:
        """The server's tools, starting it where it is not running (McpError if it cannot)."""
        return (await self._connection()).tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call `tool` on the server within its timeout; every failure is an McpError."""
        connection = await self._connection()
        try:
            return await connection.call(tool, arguments, self.config.timeout)
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                raise McpError(
                    f"MCP server {self.name!r} did not answer {tool} within "
                    f"{self.config.timeout:g} s (its `timeout` setting)."
                ) from None
            if exc.code != types.CONNECTION_CLOSED and not connection.broken:
                why = self.redact(f"MCP server {self.name!r} refused {tool}: {exc}")
                raise McpError(why) from None
            raise McpError(self._stopped(connection, f"during the call to {tool}")) from None
        except Exception as exc:  # the transport, or a result that breaks the protocol
            if connection.broken:
                raise McpError(self._stopped(connection, f"during the call to {tool}")) from None
            why = self.redact(_described(exc))
            raise McpError(f"MCP server {self.name!r} failed on {tool}: {why}") from None

    async def aclose(self) -> None:
        async with self._lock:
            if self._live is not None:
                await self._live.aclose()
                self._live = None

    @property
    def starts_left(self) -> int:
        return STARTS - self._starts

    async def _connection(self) -> _Connection:
        """The live connection, or a new one if there is none or it broke and starts are left."""
        async with self._lock:
            live = self._live
            if live is not None and not live.broken:
                return live
            if live is not None:  # it broke: close what is left of it before starting anew
                self._live = None
                await live.aclose()
            if self._starts >= STARTS:
                raise McpError(
                    f"MCP server {self.name!r} is down ({self.error}); it was started "
                    f"{STARTS} times. Fix it and restart HASHIRU."
                )
            self._starts += 1
            connection = _Connection(self.config)
            try:
                await connection.open()
            except BaseException as exc:  # a cancelled start is stopped too: no process is left
                tail = connection.detail()
                await connection.aclose()
                if not isinstance(exc, Exception):
                    raise
                self.error = self.redact(f"it did not start: {_described(exc)}{tail}")
                raise McpError(f"MCP server {self.name!r}: {self.error}") from None
            self._live, self.error = connection, None
            return connection

    def _stopped(self, connection: _Connection, when: str) -> str:
        connection.broken = True
        self.error = self.redact(f"it stopped {when}{connection.detail()}")
        then = (
            "it will be restarted on the next call"
            if self.starts_left
            else "it is now down for the rest of this process"
        )
        return f"MCP server {self.name!r}: {self.error}; {then}."


class _Connection:
    """One start of a server: a task holding its transport and session open until closed."""

    def __init__(self, config: McpServerSettings) -> None:
        self.config = config
        self.tools: list[types.Tool] = []
        self.broken = False
        self._client: Client | None = None
        self._stop = anyio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stderr: IO[bytes] | None = None
        self._http_status: int | None = None  # the last error status an HTTP server sent

    async def open(self) -> None:
        """Start the server and list its tools, within its timeout."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(ready))
        await ready

    async def call(
        self, tool: str, arguments: dict[str, Any], timeout: float
    ) -> types.CallToolResult:
        if self._client is None:
            raise MCPError(types.CONNECTION_CLOSED, "Connection closed")
        return await self._client.call_tool(tool, arguments, read_timeout_seconds=timeout)

    async def aclose(self) -> None:
        """Stop the server (a stdio process is ended, never left behind) and wait for it."""
        self._stop.set()
        if self._task is not None:
            if self._client is None:  # still starting: stop it now, not at its timeout
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def detail(self) -> str:
        """What the server last said about a failure: the end of its stderr, or an HTTP error
        status ('' if nothing)."""
        if self._http_status is not None:
            return f"; it answered HTTP {self._http_status}"
        if self._stderr is None:
            return ""
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        tail = os.pread(fd, STDERR_TAIL, max(0, size - STDERR_TAIL)).decode(errors="replace")
        tail = " | ".join(line.strip() for line in tail.strip().splitlines() if line.strip())
        return f"; its stderr ends: {tail}" if tail else ""

    async def _hold(self, ready: asyncio.Future[None]) -> None:
        """Open the session, list the tools, then hold it open until `aclose` or a break."""
        try:
            deadline = anyio.current_time() + self.config.timeout
            with anyio.CancelScope(deadline=deadline) as scope:
                async with self._session() as client:
                    self.tools = await _listed(client)
                    scope.deadline = math.inf  # started: from now on each call has its timeout
                    self._client = client
                    ready.set_result(None)
                    await self._stop.wait()
            if scope.cancelled_caught and not ready.done():
                ready.set_exception(TimeoutError(f"no answer within {self.config.timeout:g} s"))
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
        finally:
            self._client = None
            self.broken = True
            if not ready.done():
                ready.set_exception(ConnectionError("the connection closed while starting"))

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Client]:
        config = self.config
        if config.command is not None:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by aclose)
            env = {k: os.environ[k] for k in _LOCALE if k in os.environ}
            env |= {k: v.get_secret_value() for k, v in config.env.items()}
            params = StdioServerParameters(
                command=config.command, args=list(config.args), env=env, cwd=config.cwd
            )
            transport = stdio_client(params, errlog=self._stderr)  # type: ignore[arg-type]
            async with Client(transport) as client:
                yield client
            return
        headers = {k: v.get_secret_value() for k, v in config.headers.items()}
        timeout = httpx2.Timeout(config.timeout, read=max(config.timeout, 300.0))

        async def seen(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                self._http_status = response.status_code

        hooks = {"response": [seen]}
        async with httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks=hooks) as http:
            assert config.url is not None
            stream = streamable_http_client(
                config.url, http_client=http, max_sse_event_size=MAX_RESPONSE_BYTES
            )
            async with Client(stream) as client:
                yield client


async def _listed(client: Client) -> list[types.Tool]:
    """Every tool the server lists, page after page (at most 100 pages)."""
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _described(exc: BaseException) -> str:
    """An exception as one line, unwrapping the task groups' ExceptionGroups to the cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
        return "the connection closed (the server exited or hung up)"
    if isinstance(exc, FileNotFoundError):
        return f"no such program: {exc.filename}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
