"""`hashiru mcp serve`: the company as an MCP server, so any MCP client can hand it work.

Claude Desktop, an IDE or another agent framework calls `run_task` and gets the CEO's answer,
its run id and what it cost, with a progress notification for each step while it works; it
reads the budgets, the employees and the saved conversations as `hashiru ... --json` prints
them. Thin, like the CLI and the app: each tool calls the runtime and returns the same values
(`budget_summary`, `Employee.summary`, `ConversationPage`), as structured content and as text.

An MCP client cannot answer HASHIRU's approval prompts, so runs from here use the refusing
approver: a tool the CEO writes that needs approval stays disabled until someone enables it
(`hashiru tools enable NAME`). Over stdio the client starts the server and owns its stdout,
where nothing but protocol goes (the SDK points fd 1 at stderr while serving). Over HTTP the
server listens on loopback only and every request needs the bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import socket
import sys
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import pydantic_core
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from hashiru import __version__, display
from hashiru.agents.events import (
    AgentFired,
    AgentHired,
    ContextCompacted,
    Event,
    MemoriesRecalled,
    StepFinished,
    ToolCallFinished,
    ToolCallStarted,
)
from hashiru.agents.hr_tools import budget_summary
from hashiru.agents.toolsmith import refuse_all
from hashiru.conversations import ConversationPage
from hashiru.errors import ConfigError, HashiruError
from hashiru.runtime import Hashiru
from hashiru.transcript import markdown

TOKEN_ENV = "HASHIRU_MCP_TOKEN"
"""Where `serve` reads the HTTP bearer token when it is given none."""
PATH = "/mcp"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
INSTRUCTIONS = (
    "HASHIRU is a company of AI agents: its CEO answers a task by hiring, asking and firing "
    "employee models within a budget. Give it work with run_task; get_budget and list_agents "
    "show its money and staff; list_conversations and get_conversation read earlier work."
)


class TaskCost(BaseModel):
    expense_usd: Decimal = Field(description="What the run spent, in US dollars")
    resource_gib_used: Decimal = Field(description="Memory the local employees hold, in GiB")


class TaskResult(BaseModel):
    answer: str
    run_id: str = Field(description="The run's id in the ledger (`hashiru ledger --run ID`)")
    conversation_id: str | None = Field(description="Pass it back to continue the conversation")
    cost: TaskCost
    steps: int
    seconds: float


class TurnView(BaseModel):
    number: int
    at: datetime
    run_id: str = Field(description="'' for a turn said before the conversation was saved")
    task: str
    answer: str
    ok: bool


class ConversationView(BaseModel):
    id: str
    title: str
    source: str
    spent_usd: Decimal
    turns: list[TurnView]
    markdown: str = Field(description="The transcript, as `hashiru conversations show` prints")


def build_server(hashiru: Hashiru, token: str | None = None, issuer: str = "") -> MCPServer:
    """The MCP server for `hashiru`'s workspace; given a `token`, requests over HTTP need it
    as their bearer token (`issuer`: the server's own URL, which issues it)."""
    auth: dict[str, Any] = {}
    if token is not None:
        auth = {
            "token_verifier": _BearerToken(token),
            "auth": AuthSettings(issuer_url=issuer, resource_server_url=None),
        }
    server = MCPServer(
        "hashiru",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
        **auth,
    )

    @server.tool()
    async def run_task(
        task: Annotated[str, Field(description="What the company should do, in plain words")],
        ctx: Context,
        budget_usd: Annotated[
            float | None,
            Field(ge=0, description="The most this run may spend, in US dollars"),
        ] = None,
        conversation_id: Annotated[
            str | None,
            Field(description="Continue this saved conversation; omit to start a new one"),
        ] = None,
    ) -> Annotated[CallToolResult, TaskResult]:
        """Give the HASHIRU company a task: its CEO hires, asks and fires employee models to
        answer it, within the workspace's budget and `budget_usd` if given (a call that would
        go over is refused and the run ends with an error naming its run id). Returns the
        answer, the run id, the conversation id and what it cost; a progress notification
        follows each step. The run is saved as a conversation turn. Tools the CEO writes that
        need approval stay disabled: an MCP client cannot answer HASHIRU's approval prompt."""
        progress = Progress(ctx)
        conversation = conversation_id or hashiru.conversations.new(source="mcp")
        try:
            result = await hashiru.run(
                task,
                on_event=progress.event,
                budget_usd=None if budget_usd is None else Decimal(str(budget_usd)),
                approve=refuse_all,
                conversation=conversation,
            )
        except HashiruError as exc:
            return _failure(exc)
        finally:
            await progress.close()
        return _success(TaskResult.model_validate(result, from_attributes=True))

    @server.tool()
    async def get_budget() -> dict[str, Any]:
        """Both budgets as `hashiru budget --json` gives them: expense in US dollars (total,
        spent, reserved, free), resource memory in GiB (total, used, free), and the spend of
        each employee."""
        return budget_summary(await asyncio.to_thread(hashiru.ledger.state))

    @server.tool()
    async def list_agents() -> list[dict[str, Any]]:
        """The company's employees as `hashiru agents --json` gives them: name, model, local
        or cloud, kind, calls, failures, tokens and mean seconds per call."""
        return await asyncio.to_thread(lambda: [e.summary() for e in hashiru.company.roster])

    @server.tool()
    async def list_conversations(
        query: Annotated[
            str, Field(description="Words to find in titles, tasks and answers; '' for all")
        ] = "",
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> ConversationPage:
        """Saved conversations, newest first, with what each spent; `more` says whether
        another page follows (ask again with a larger offset)."""
        return await asyncio.to_thread(
            hashiru.conversation_page, query=query, offset=offset, limit=limit
        )

    @server.tool()
    async def get_conversation(
        conversation_id: Annotated[str, Field(description="A conversation's id, or its start")],
    ) -> Annotated[CallToolResult, ConversationView]:
        """One saved conversation: its turns (task, answer, run id) and its transcript as
        Markdown, every step the CEO took included."""
        try:
            conversation = await asyncio.to_thread(hashiru.conversations.get, conversation_id)
        except HashiruError as exc:
            return _failure(exc)
        spent = await asyncio.to_thread(hashiru.conversation_spent, conversation)
        transcript = markdown(conversation, spent)
        view = ConversationView(
            **conversation.model_dump(include={"id", "title", "source"}),
            spent_usd=spent,
            turns=[TurnView.model_validate(t, from_attributes=True) for t in conversation.turns],
            markdown=transcript,
        )
        return _success(view, text=transcript)

    return server


async def serve(
    hashiru: Hashiru,
    *,
    http: bool = False,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
) -> None:
    """Serve `hashiru` over MCP until cancelled (or, over stdio, until the client leaves).

    Over HTTP (streamable HTTP at http://HOST:PORT/mcp) `host` must be a loopback address and
    every request must carry `Authorization: Bearer TOKEN`: `token`, else $HASHIRU_MCP_TOKEN,
    else one made now and printed to stderr with how to connect. Port 0 takes a free port;
    stderr says which.
    """
    if not http:
        if token is not None:
            raise ConfigError(
                "A token protects the HTTP server; over stdio the client starts the server "
                "itself and needs none: add --http, or drop --token."
            )
        await build_server(hashiru).run_stdio_async()
        return
    await _serve_http(hashiru, host, port, token)


async def _serve_http(hashiru: Hashiru, host: str, port: int, token: str | None) -> None:
    import uvicorn  # loaded only for HTTP

    given = token if token is not None else os.environ.get(TOKEN_ENV)
    if given is not None and not given.strip():
        raise ConfigError(f"The MCP token is empty: give --token or {TOKEN_ENV} a value.")
    bearer = given.strip() if given else secrets.token_urlsafe(32)
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    url = f"http://{'[::1]' if ':' in host else host}:{port}"
    app = build_server(hashiru, bearer, issuer=url).streamable_http_app(
        streamable_http_path=PATH, host=host
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    if not given:
        _say(f"A token made for this run (set {TOKEN_ENV} or --token to keep one):")
    _say(f"clients send the header `Authorization: Bearer {'<your token>' if given else bearer}`")
    _say(f"HASHIRU MCP server on {url}{PATH} (streamable HTTP)")  # last: it is ready
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True  # finish the requests in flight, then stop
        await serving
        raise
    finally:
        sock.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, or a ConfigError that says what to change."""
    if host not in LOOPBACK:
        raise ConfigError(
            f"The MCP server listens on this machine only (127.0.0.1, localhost or ::1), "
            f"not {host!r}: anyone who reaches it can spend the budget. Use an SSH tunnel "
            "or a reverse proxy with TLS to reach it from elsewhere."
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}): choose another --port."
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Progress:
    """Turns a run's events into MCP progress notifications, in order, without holding up
    the run: events arrive synchronously; a task sends them as the client reads them."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._sender = asyncio.create_task(self._send())

    def event(self, event: Event) -> None:
        if (line := progress_line(event)) is not None:
            self._queue.put_nowait(line)

    async def close(self) -> None:
        """Send what is queued, then stop (at once, if the call is being cancelled)."""
        self._queue.put_nowait(None)
        try:
            await self._sender
        finally:
            self._sender.cancel()

    async def _send(self) -> None:
        sent = 0
        while (line := await self._queue.get()) is not None:
            sent += 1
            try:
                await self._ctx.report_progress(sent, None, line)
            except Exception:  # the client went away: the run goes on, its result is kept
                return


def progress_line(event: Event) -> str | None:
    """What a progress notification says about `event`; None for the CEO's streamed text."""
    if isinstance(event, StepFinished):
        usage = event.usage
        return f"step {event.step} done ({usage.input_tokens:,} in / {usage.output_tokens:,} out)"
    if isinstance(event, ToolCallStarted):
        return f"→ {event.name}({display.brief(event.arguments)})"
    if isinstance(event, ToolCallFinished):
        cost = display.tool_cost(event)
        spent = "" if cost is None else f" · ${display.usd(cost)}"
        return f"{'✓' if event.ok else '✗'} {event.name} {event.seconds:.2f}s{spent}"
    if isinstance(event, AgentHired):
        return f"hired {event.name} on {event.model}"
    if isinstance(event, AgentFired):
        return f"fired {event.name} ({event.model})"
    if isinstance(event, ContextCompacted):
        return display.compaction(event)
    if isinstance(event, MemoriesRecalled):
        return f"recalled {len(event.memories)} memories"
    return None


def _success(value: BaseModel, text: str | None = None) -> CallToolResult:
    structured = value.model_dump(mode="json")
    if text is None:
        text = pydantic_core.to_json(structured, indent=2).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )


def _failure(exc: HashiruError) -> CallToolResult:
    """A tool error saying what went wrong and, for a run, which run and what it spent."""
    text = str(exc)
    if exc.run_id:
        text += f" (run {exc.run_id}, ${display.usd(exc.spent_usd or Decimal(0))} spent)"
    error = {"error": str(exc), "run_id": exc.run_id, "spent_usd": exc.spent_usd}
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=pydantic_core.to_jsonable_python(error),
        is_error=True,
    )


class _BearerToken:
    """The one token this server accepts, compared in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token=token, client_id="hashiru", scopes=[])
        return None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
