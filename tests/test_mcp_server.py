"""`hashiru mcp serve` driven by the official `mcp` client, as Claude Desktop or an IDE would.

The server runs in its own process (stdio, or streamable HTTP on 127.0.0.1) on a company
whose CEO and employee are scripted models; a local model's seconds cost money here
(`local_usd_per_hour`), so the ledger has something to show and a cap something to stop.
`serve_scripted` below is that process's program.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client import stdio
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from hashiru.agents.hr_tools import budget_summary
from hashiru.economy.ledger import Ledger
from hashiru.economy.resources import memory_budget_bytes
from hashiru.errors import ConfigError
from hashiru.mcp_server import TOKEN_ENV, serve
from hashiru.messages import Message, ModelResponse, ToolCall, ToolSpec
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"run_task", "get_budget", "list_agents", "list_conversations", "get_conversation"}
POEM = "Roses are red."
POET_SECONDS = 0.3  # $0.003 at $36 an hour: each call holds request_timeout's worth, $0.10
WAIT_SECONDS = 1.5
PAID = {"enable_memory": False, "local_usd_per_hour": 36, "request_timeout": 10}
CAP = Decimal("0.1015")  # the CEO's first calls and the poet's hold fit; after the poet, not


# --- the server's process ---------------------------------------------------------------


async def ceo(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
    """A CEO that reads the conversation, so runs at once do not share a script's turns:
    it hires the poet, asks it the task, and answers with the poem. A task starting "wait"
    is answered after WAIT_SECONDS; one with "noisy" in it prints to stdout on the way."""
    task = [m for m in messages if m.role == "user"][-1].text
    if task.startswith("wait"):
        await asyncio.sleep(WAIT_SECONDS)
        return ModelResponse(text=f"done: {task}")
    if "noisy" in task:
        print("a stray print from inside a run")
        subprocess.run(["echo", "stray output from a child process"], check=True)
    results = messages[-1].tool_results
    if not results:  # the task itself: hire (an error if the poet is on the staff already)
        hire = {"name": "poet", "model": "scripted:poet", "system_prompt": "s", "description": "d"}
        return _calling("hire_agent", hire)
    if results[0].name == "hire_agent":
        return _calling("ask_agent", {"name": "poet", "prompt": task})
    return ModelResponse(text=f"The poet says: {json.loads(results[0].content)['answer']}")


def _calling(name: str, arguments: dict[str, Any]) -> ModelResponse:
    return ModelResponse(tool_calls=[ToolCall(id=name, name=name, arguments=arguments)])


def serve_scripted(argv: Sequence[str]) -> None:
    """The program of the server under test: `serve` on the scripted company."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    scripts = {
        "ceo": Script([ceo], repeat=True),
        "poet": Script([{"text": POEM, "delay": POET_SECONDS}], repeat=True),
    }
    settings = Settings.load(ceo_model="scripted:ceo", **PAID)
    hashiru = Hashiru.from_settings(settings, [ScriptedProvider(scripts)])

    async def main() -> None:
        try:
            await serve(hashiru, http=args.http, host=args.host, port=args.port)
        finally:
            await hashiru.aclose()

    asyncio.run(main())


# --- the client's side ------------------------------------------------------------------

SERVER_PROGRAM = [
    "-c",
    "import sys; from tests.test_mcp_server import serve_scripted; serve_scripted(sys.argv[1:])",
]


def _env() -> dict[str, str]:
    """What the server process is given: this test's workspace, and no real backend."""
    return {k: v for k, v in os.environ.items() if k.startswith("HASHIRU_") or k == "OLLAMA_HOST"}


def _home() -> Path:
    return Path(os.environ["HASHIRU_HOME"])


def _ledger() -> Ledger:
    """The workspace's ledger, read from this process: its budgets as the server's are."""
    settings = Settings.load()
    memory = memory_budget_bytes(settings.memory_gib, settings.memory_reserve_gib)
    return Ledger(_home() / "ledger.sqlite", settings.budget_usd, memory)


def _settled(run_id: str) -> dict[str, Decimal]:
    """What each agent's calls in the run cost, as the ledger has it."""
    spent: dict[str, Decimal] = {}
    for entry in _ledger().entries(run_id):
        if entry.kind == "settle" and entry.usd is not None:
            spent[entry.agent] = spent.get(entry.agent, Decimal(0)) + entry.usd
    return spent


@asynccontextmanager
async def stdio_client(
    tmp_path: Path, program: Sequence[str] = SERVER_PROGRAM
) -> AsyncIterator[Client]:
    """A client of a server it starts over stdio, as Claude Desktop starts `hashiru`; the
    server's stderr goes to tmp_path/server.err."""
    params = StdioServerParameters(
        command=sys.executable, args=list(program), env=_env(), cwd=str(ROOT)
    )
    with open(tmp_path / "server.err", "w") as errlog:
        async with Client(stdio.stdio_client(params, errlog=errlog)) as client:
            yield client


class Progress:
    """A progress callback that keeps what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, message or ""))

    @property
    def messages(self) -> list[str]:
        return [message for _, message in self.seen]


async def test_a_client_hands_the_company_a_task_and_reads_its_books(tmp_path: Path) -> None:
    async with stdio_client(tmp_path) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        progress = Progress()
        done = await client.call_tool("run_task", {"task": "Write a poem"}, None, progress)
        assert not done.is_error, done.content
        result = done.structured_content
        assert result["answer"] == f"The poet says: {POEM}"
        assert json.loads(done.content[0].text) == result  # the same, as text

        spent = _settled(result["run_id"])  # the spend is in the ledger, under the run
        assert set(spent) == {"ceo", "poet"} and spent["poet"] >= Decimal("0.003")
        assert Decimal(result["cost"]["expense_usd"]) == sum(spent.values())

        steps = progress.messages  # a notification for each step while it worked
        assert "hired poet on scripted:poet" in steps
        assert any(m.startswith("→ ask_agent(") for m in steps)
        assert [m.split(" done")[0] for m in steps if m.startswith("step ")] == [
            "step 1",
            "step 2",
            "step 3",
        ]
        assert result["steps"] == 3
        numbers = [n for n, _ in progress.seen]
        assert numbers == sorted(set(numbers))  # progress only increases

        budget = (await client.call_tool("get_budget", {})).structured_content
        assert budget == json.loads(json.dumps(budget_summary(_ledger().state()), default=str))
        agents = (await client.call_tool("list_agents", {})).structured_content["result"]
        assert [(a["name"], a["model"], a["calls"]) for a in agents] == [
            ("poet", "scripted:poet", 1)
        ]

        again = await client.call_tool(
            "run_task", {"task": "Another", "conversation_id": result["conversation_id"]}
        )
        assert again.structured_content["conversation_id"] == result["conversation_id"]
        page = (await client.call_tool("list_conversations", {"query": "poem"})).structured_content
        assert [(c["id"], c["source"], c["turn_count"]) for c in page["items"]] == [
            (result["conversation_id"], "mcp", 2)
        ]
        shown = await client.call_tool(
            "get_conversation", {"conversation_id": result["conversation_id"]}
        )
        turns = shown.structured_content["turns"]
        assert (turns[0]["task"], turns[0]["run_id"]) == ("Write a poem", result["run_id"])
        assert shown.content[0].text.startswith("# Write a poem")  # the Markdown transcript
        assert "in an MCP client" in shown.content[0].text

        unknown = await client.call_tool("run_task", {"task": "x", "conversation_id": "feed"})
        assert unknown.is_error and "feed" in unknown.content[0].text
        assert (await client.call_tool("get_budget", {})).structured_content  # still serving


async def test_a_budget_cap_in_the_call_stops_the_run_before_it_overspends(
    tmp_path: Path,
) -> None:
    async with stdio_client(tmp_path) as client:
        stopped = await client.call_tool("run_task", {"task": "A poem", "budget_usd": float(CAP)})
        assert stopped.is_error
        error = stopped.structured_content
        assert "Run limit exceeded" in error["error"]
        assert error["run_id"] in stopped.content[0].text
        spent = _settled(error["run_id"])
        assert "poet" in spent  # it got as far as the poet's answer, then could pay no more
        assert sum(spent.values()) == Decimal(error["spent_usd"]) <= CAP
        assert _ledger().state(error["run_id"]).run_reserved == 0  # and holds nothing

        negative = await client.call_tool("run_task", {"task": "x", "budget_usd": -1})
        assert negative.is_error and "budget_usd" in negative.content[0].text


async def test_several_tasks_run_at_once_and_the_books_answer_meanwhile(tmp_path: Path) -> None:
    async with stdio_client(tmp_path) as client:
        await client.list_tools()

        async def budget_seconds() -> float:
            await asyncio.sleep(WAIT_SECONDS / 3)  # while both runs are under way
            started = time.monotonic()
            await client.call_tool("get_budget", {})
            return time.monotonic() - started

        started = time.monotonic()
        first, second, seconds = await asyncio.gather(
            client.call_tool("run_task", {"task": "wait one"}),
            client.call_tool("run_task", {"task": "wait two"}),
            budget_seconds(),
        )
        elapsed = time.monotonic() - started
    assert first.structured_content["answer"] == "done: wait one"
    assert second.structured_content["answer"] == "done: wait two"
    assert first.structured_content["run_id"] != second.structured_content["run_id"]
    assert elapsed < 1.8 * WAIT_SECONDS  # side by side, not one after the other
    assert seconds < WAIT_SECONDS / 2  # the event loop was free while they ran


async def test_stdout_carries_nothing_but_the_protocol(tmp_path: Path) -> None:
    """Even when code inside a run prints, or a process it starts does: it goes to stderr."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "run_task",
                "arguments": {"task": "A noisy poem"},
                "_meta": {"progressToken": "p"},
            },
        },
    ]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        *SERVER_PROGRAM,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **_env()},
        cwd=ROOT,
    )
    assert server.stdin and server.stdout and server.stderr
    lines: list[dict[str, Any]] = []
    for request in requests:
        server.stdin.write(json.dumps(request).encode() + b"\n")
        await server.stdin.drain()
        while "id" in request and not any(m.get("id") == request["id"] for m in lines):
            line = await asyncio.wait_for(server.stdout.readline(), 30)
            lines.append(json.loads(line))  # fails on anything but JSON
    server.stdin.close()
    rest, errors = await asyncio.wait_for(server.communicate(), 30)
    assert rest == b""
    assert all(m["jsonrpc"] == "2.0" for m in lines)
    assert lines[-1]["result"]["structuredContent"]["answer"] == f"The poet says: {POEM}"
    assert any(m.get("method") == "notifications/progress" for m in lines)
    assert b"a stray print from inside a run" in errors
    assert b"stray output from a child process" in errors


@asynccontextmanager
async def http_server(env: dict[str, str] | None = None) -> AsyncIterator[tuple[str, list[str]]]:
    """The server over HTTP on a free port: yields its URL and what it said on stderr."""
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        *SERVER_PROGRAM,
        "--http",
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **_env(), **(env or {})},
        cwd=ROOT,
    )
    assert server.stderr is not None
    said: list[str] = []
    try:
        while not (ready := re.search(r"server on (http://\S+)", said[-1] if said else "")):
            line = await asyncio.wait_for(server.stderr.readline(), 30)
            assert line, f"the server stopped: {said}"
            said.append(line.decode().strip())
        yield ready[1], said
    finally:
        server.terminate()
        await server.wait()


@asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def _initialize(url: str, headers: dict[str, str]) -> int:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {}},
    }
    accept = {"Accept": "application/json, text/event-stream"}
    return httpx.post(url, json=body, headers={**accept, **headers}, timeout=10).status_code


async def test_http_answers_only_with_the_bearer_token() -> None:
    token = "s3cret-token-for-this-test"
    async with http_server(env={TOKEN_ENV: token}) as (url, said):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/mcp", url)
        assert not any(token in line for line in said)  # a token it was given is not shown
        assert _initialize(url, {}) == 401
        assert _initialize(url, {"Authorization": "Bearer wrong"}) == 401
        assert _initialize(url, {"Authorization": f"Bearer {token}x"}) == 401
        assert _initialize(url, {"Authorization": f"Bearer {token}"}) == 200
        async with http_client(url, token) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            progress = Progress()
            done = await client.call_tool("run_task", {"task": "A poem"}, None, progress)
            assert done.structured_content["answer"] == f"The poet says: {POEM}"
            assert "hired poet on scripted:poet" in progress.messages


async def test_http_makes_a_token_when_given_none_and_says_how_to_connect() -> None:
    async with http_server() as (url, said):
        told = next(line for line in said if "Authorization: Bearer" in line)
        token = told.split("Bearer ")[1].rstrip("`")
        assert len(token) >= 32
        assert _initialize(url, {}) == 401
        async with http_client(url, token) as client:
            assert (await client.call_tool("get_budget", {})).structured_content


async def test_serving_beyond_this_machine_or_a_token_over_stdio_is_refused() -> None:
    hashiru = Hashiru.from_settings(Settings.load(enable_memory=False))
    try:
        with pytest.raises(ConfigError, match="listens on this machine only"):
            await serve(hashiru, http=True, host="0.0.0.0", token="t")
        with pytest.raises(ConfigError, match="--token"):
            await serve(hashiru, token="t")
    finally:
        await hashiru.aclose()


async def test_the_cli_serves_over_stdio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hashiru mcp serve`, as the Claude Desktop snippet in the README starts it."""
    script = tmp_path / "ceo.json"
    script.write_text(json.dumps([{"text": "Hello from the CLI."}]))
    monkeypatch.setenv("HASHIRU_CEO_MODEL", f"scripted:{script}")
    monkeypatch.setenv("HASHIRU_ENABLE_MEMORY", "false")
    async with stdio_client(tmp_path, ["-m", "hashiru", "mcp", "serve"]) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        done = await client.call_tool("run_task", {"task": "Hi"})
    assert done.structured_content["answer"] == "Hello from the CLI."
