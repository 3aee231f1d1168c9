"""MCP servers' tools as HASHIRU tools: `<server>__<tool>`, with the server's JSON Schema.

`McpServers` is built from `Settings.mcp_servers` alone, one per workspace runtime. A server
starts on first use (several at once when a run lists their tools), stays up for the process
(its session belongs to the event loop that started it), is restarted once if it dies, and is
stopped by `aclose()`. Every failure reaches the caller as an McpError, which the agent loop
turns into a tool error for the CEO; the run goes on.

Each call passes the server's approval first: "always" asks before every call, "once" before
the first call in this process (its approval covers the server's later calls), "never" does not
ask. Who is asked is the run's business: `tools(ask)` takes the question as a callback.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft202012Validator, SchemaError
from mcp import types
from pydantic import BaseModel, Field

from hashiru.errors import McpError
from hashiru.messages import ToolSpec
from hashiru.settings import McpServerSettings, Settings
from hashiru.tools.base import Tool
from hashiru.tools.mcp_results import error_text, result_value
from hashiru.tools.mcp_session import ServerSession

SEPARATOR = "__"
TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
"""A tool name every provider takes (OpenAI and Anthropic: [A-Za-z0-9_-]{1,64}; Gemini: it
starts with a letter or an underscore)."""


def tool_name(server: str, tool: str) -> str:
    """`<server>__<tool>`; where that breaks TOOL_NAME, its cleaned head and a hash of it."""
    name = f"{server}{SEPARATOR}{tool}"
    return name if TOOL_NAME.fullmatch(name) else hashed_name(name)


def hashed_name(name: str) -> str:
    """A TOOL_NAME made of `name` (deterministic: the same name always gives the same one)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if not TOOL_NAME.match(cleaned):
        cleaned = f"_{cleaned}"
    return f"{cleaned[:55]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class McpCall:
    """A call the user is asked to allow: the tool as the CEO names it, and what it asks."""

    name: str  # <server>__<tool>
    server: str
    tool: str  # as the server names it
    description: str
    arguments: dict[str, Any]
    until_exit: bool  # allowing it allows the server's later calls too, until HASHIRU exits


Ask = Callable[[McpCall], Awaitable[bool]]


async def refuse(call: McpCall) -> bool:
    """The question when nobody can be asked: a call that needs approval does not run."""
    return False


class ServerStatus(BaseModel):
    """One server as `hashiru mcp list` shows it: whether it starts, and its tools."""

    name: str
    transport: Literal["stdio", "http"]
    enabled: bool
    approval: Literal["always", "once", "never"]
    ok: bool
    error: str | None = None  # why it did not start, or why it is down; never a secret
    tools: list[ToolSpec] = Field(default_factory=list)  # as the CEO sees them
    skipped: list[str] = Field(default_factory=list)  # tools left out, each with why


class McpServers:
    """The configured MCP servers, started when first used and closed by `aclose()`."""

    def __init__(self, servers: Mapping[str, McpServerSettings]) -> None:
        self.configs = dict(servers)
        self._sessions = {name: ServerSession(name, c) for name, c in servers.items()}
        self._approved: set[str] = set()  # "once" servers the user allowed in this process
        self._asking = {name: asyncio.Lock() for name in servers}

    @classmethod
    def from_settings(cls, settings: Settings) -> McpServers:
        return cls(settings.mcp_servers)

    async def tools(self, ask: Ask = refuse) -> list[Tool]:
        """Every enabled server's tools, starting the servers (concurrently) as needed. A
        server that does not start is left out (`status` says why); `ask` approves calls."""
        enabled = [name for name, config in self.configs.items() if config.enabled]
        listed = await asyncio.gather(*(self._listing(name, ask) for name in enabled))
        return _unique([tool for tools, _ in listed for tool in tools])

    async def status(self, name: str | None = None) -> list[ServerStatus]:
        """Each server (or the one named), started to see whether it starts and what it offers."""
        if name is not None and name not in self.configs:
            known = ", ".join(self.configs) or "none is configured"
            raise McpError(f"No MCP server named {name!r} (configured: {known}).")
        names = [name] if name is not None else list(self.configs)
        return list(await asyncio.gather(*(self._status(n) for n in names)))

    def unavailable(self) -> list[str]:
        """A note per enabled server that did not start or is down, saying why (no secret)."""
        return [
            f"MCP server {name!r} is unavailable, so its tools are not offered: {session.error}"
            for name, session in self._sessions.items()
            if session.error is not None and self.configs[name].enabled
        ]

    async def aclose(self) -> None:
        """Stop every server this process started (their processes end; none is left)."""
        await asyncio.gather(*(session.aclose() for session in self._sessions.values()))

    async def _status(self, name: str) -> ServerStatus:
        config = self._sessions[name].config
        tools, skipped = await self._listing(name, refuse)
        return ServerStatus(
            name=name,
            transport=config.transport,
            enabled=config.enabled,
            approval=config.approval_mode,
            ok=self._sessions[name].error is None,
            error=self._sessions[name].error,
            tools=[tool.spec for tool in tools],
            skipped=skipped,
        )

    async def _listing(self, name: str, ask: Ask) -> tuple[list[Tool], list[str]]:
        """The server's tools and the ones left out (with why); none if it does not start."""
        session = self._sessions[name]
        try:
            listed = await session.tools()
        except McpError:
            return [], []
        tools, skipped = [], []
        for spec in listed:
            if why := _schema_problem(spec.input_schema):
                skipped.append(f"{spec.name}: {why}")
            else:
                tools.append(self._tool(session, spec, ask))
        return tools, skipped

    def _tool(self, session: ServerSession, spec: types.Tool, ask: Ask) -> Tool:
        name = tool_name(session.name, spec.name)
        description = spec.description or spec.title or spec.name

        async def call(**arguments: Any) -> Any:
            once = session.config.approval_mode == "once"
            request = McpCall(name, session.name, spec.name, description, arguments, once)
            await self._approve(request, ask)
            result = await session.call(spec.name, arguments)
            if result.is_error:
                raise McpError(session.redact(f"{name} failed: {error_text(result)}"))
            return result_value(result)

        return Tool(name, f"[MCP {session.name}] {description}", spec.input_schema, call)

    async def _approve(self, request: McpCall, ask: Ask) -> None:
        """Ask where the server's approval mode says to; McpError when the user says no."""
        mode = self.configs[request.server].approval_mode
        if mode == "never" or request.server in self._approved:
            return
        async with self._asking[request.server]:  # concurrent calls: one question at a time
            if request.server in self._approved:
                return
            if not await ask(request):
                raise McpError(
                    f"The user did not approve this call to {request.name} (MCP server "
                    f"{request.server!r}); do not retry it unless the user asks."
                )
            if request.until_exit:
                self._approved.add(request.server)


def _schema_problem(schema: Any) -> str | None:
    """Why a tool's input schema cannot be offered, or None when it can."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return 'its input schema is not a JSON Schema object ({"type": "object", ...})'
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "the schema"
        return f"its input schema is not valid JSON Schema at {where}: {exc.message}"
    return None


def _unique(tools: list[Tool]) -> list[Tool]:
    """Tools whose names collide (server `a__b`'s tool `c`, server `a`'s tool `b__c`) each get
    a hashed name of their description and schema, so none shadows another."""
    counts = Counter(tool.name for tool in tools)
    return [
        tool
        if counts[tool.name] == 1
        else Tool(
            hashed_name(f"{tool.name}:{tool.description}"),
            tool.description,
            tool.parameters,
            tool.handler,
        )
        for tool in tools
    ]
