"""Real MCP servers for tests and benchmarks, written with the `mcp` package (MCPServer).

Run one as a program:

    python -m tests.fakes.mcp_servers stdio [--mode MODE]
    python -m tests.fakes.mcp_servers http [--mode MODE] [--port 0] [--token TOKEN]

`stdio` speaks MCP on stdin/stdout. `http` serves streamable HTTP at http://127.0.0.1:PORT/mcp
(port 0: a free one) and prints one line `READY <url>` once it listens; with `--token` every
request needs `Authorization: Bearer TOKEN` (401 otherwise); `http_server` also gives the
server the token as $MCP_TEST_TOKEN, so that `fail` can say it.

From Python:

    McpServerSettings(**stdio_config("ok"))  # command, args and cwd that start it
    with http_server("ok", token="s3cret") as url:  # a subprocess, killed when the block ends
        McpServerSettings(url=url, headers={"Authorization": "Bearer s3cret"})
    McpServerSettings(**never_starts())  # a command that exits at once, saying why on stderr
    McpServerSettings(url=unused_url())  # where nothing listens

Starting the stdio server takes a second or two: importing `mcp` is most of it.

Tools (every mode has them):
    add(a, b) -> int                 the sum
    echo(text) -> str                the text back
    getenv(name) -> str | None       the server's own environment variable (secret tests)
    pid() -> int                     the server's process id (restart tests)
    stats(numbers) -> {count, total, mean}   structured content
    picture() -> an image            a 1x1 PNG
    crash()                          the process exits mid-call (exit status 3)
    hang()                           never answers
    fail(message)                    an error result (is_error) with the message, in which
                                     `$NAME` is the server's environment variable NAME
    huge(megabytes=10)               a text result that large

Modes:
    ok            the tools above
    never-start   exits, saying why on stderr, before speaking MCP (`never_starts()` is quicker)
    bad-schema    also a tool `broken` whose input schema is not valid JSON Schema
    odd-names     also tools named `read.file`, `x__add` and 80 characters long (`x...x`); each
                  answers "done"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the working directory the servers run in (`-m tests.fakes...`)."""
MODES = ("ok", "never-start", "bad-schema", "odd-names")
LONG_NAME = "x" * 80
# the smallest PNG: one transparent pixel
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
NEVER_STARTS = "this server is configured never to start (mode never-start)"


def build(mode: str = "ok") -> MCPServer:
    """The test server in `mode` (see the module docstring)."""
    server = MCPServer("hashiru-test", tools=_extra_tools(mode), log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Say the text back."""
        return text

    @server.tool()
    def getenv(name: str) -> str | None:
        """The value of an environment variable of the server's process, or null."""
        return os.environ.get(name)

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    @server.tool()
    def stats(numbers: list[float]) -> dict[str, float]:
        """Count, total and mean of some numbers."""
        return {"count": len(numbers), "total": sum(numbers), "mean": sum(numbers) / len(numbers)}

    @server.tool()
    def picture() -> Image:
        """A tiny picture."""
        return Image(data=PIXEL, format="png")

    @server.tool()
    def crash() -> str:
        """Exit the server's process in the middle of the call."""
        os._exit(3)

    @server.tool()
    async def hang() -> str:
        """Never answer."""
        await asyncio.Event().wait()
        return "unreachable"

    @server.tool(structured_output=False)
    def fail(message: str = "it went wrong") -> str:
        """Fail with a message; `$NAME` in it is the server's environment variable NAME."""
        raise ToolError(os.path.expandvars(message))

    @server.tool(structured_output=False)
    def huge(megabytes: float = 10) -> str:
        """A text result of so many megabytes."""
        return "y" * int(megabytes * 1_000_000)

    return server


def _extra_tools(mode: str) -> list[Tool]:
    def noop() -> str:
        """Does nothing."""
        return "done"

    if mode == "bad-schema":
        broken = Tool.from_function(noop, name="broken")
        bad = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
        return [broken.model_copy(update={"parameters": bad})]
    if mode == "odd-names":
        return [Tool.from_function(noop, name) for name in ("read.file", LONG_NAME, "x__add")]
    return []


def stdio_command(mode: str = "ok") -> tuple[str, tuple[str, ...]]:
    """The command and arguments that start the stdio server in `mode` (run them in ROOT)."""
    return sys.executable, ("-m", "tests.fakes.mcp_servers", "stdio", "--mode", mode)


def stdio_config(mode: str = "ok") -> dict[str, Any]:
    """The `[mcp_servers.NAME]` settings of the stdio server in `mode`: command, args, cwd."""
    command, args = stdio_command(mode)
    return {"command": command, "args": list(args), "cwd": str(ROOT)}


def never_starts(says: str = NEVER_STARTS) -> dict[str, Any]:
    """Settings of a command that exits at once, writing `says` to stderr (it may name an
    environment variable as `$NAME`, whose value it then writes)."""
    code = "import os, sys; sys.exit(os.path.expandvars(sys.argv[1]))"
    return {"command": sys.executable, "args": ["-c", code, says]}


@contextmanager
def http_server(mode: str = "ok", token: str | None = None) -> Iterator[str]:
    """Serve over streamable HTTP in a subprocess (so `crash` ends only it); yields the URL."""
    args = ["-m", "tests.fakes.mcp_servers", "http", "--mode", mode]
    process = subprocess.Popen(
        [sys.executable, *args, *(["--token", token] if token else [])],
        env=os.environ | ({"MCP_TEST_TOKEN": token} if token else {}),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the MCP test server did not start: {line!r}")
        yield line.split()[1]
    finally:
        process.kill()
        process.wait()


def unused_url() -> str:
    """An MCP URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


class _BearerOnly:
    """ASGI middleware: only requests carrying `Authorization: Bearer <token>` get through."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and dict(scope["headers"]).get(b"authorization") != self.expected
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await self.app(scope, receive, send)


async def _serve_http(server: MCPServer, port: int, token: str | None) -> None:
    import uvicorn

    app: Any = server.streamable_http_app()
    if token:
        app = _BearerOnly(app, token)
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else each reply waits 40 ms
    sock.bind(("127.0.0.1", port))
    sock.listen()
    print(f"READY http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.mode == "never-start":
        sys.exit(NEVER_STARTS)
    server = build(args.mode)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        asyncio.run(_serve_http(server, args.port, args.token))


if __name__ == "__main__":
    main()
