"""MCP servers' tools as HASHIRU tools: real servers (tests.fakes.mcp_servers) over stdio and
streamable HTTP, listed, called, failing in every way, approved, and never leaking a secret."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from hashiru.errors import McpError
from hashiru.settings import McpServerSettings
from hashiru.tools import Tool
from hashiru.tools.mcp import TOOL_NAME, McpCall, McpServers, tool_name
from hashiru.tools.mcp_results import MAX_RESULT_CHARS
from tests.fakes.mcp_servers import (
    LONG_NAME,
    NEVER_STARTS,
    http_server,
    never_starts,
    stdio_config,
    unused_url,
)

TOKEN = "tok-5ecret-b3arer-value"
SECRET = "env-5ecret-value-42"
MakeServers = Callable[..., McpServers]


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """One HTTP test server for the module (it needs the bearer TOKEN); never crashed here."""
    with http_server("ok", token=TOKEN) as url:
        yield url


def http(url: str, **settings: Any) -> McpServerSettings:
    return McpServerSettings(url=url, headers={"Authorization": f"Bearer {TOKEN}"}, **settings)


def stdio(mode: str = "ok", **settings: Any) -> McpServerSettings:
    return McpServerSettings(**stdio_config(mode), **settings)


@pytest.fixture
async def make_servers() -> AsyncIterator[MakeServers]:
    """McpServers from keyword settings, closed when the test ends."""
    made: list[McpServers] = []

    def make(**servers: McpServerSettings) -> McpServers:
        made.append(McpServers(servers))
        return made[-1]

    yield make
    for servers in made:
        await servers.aclose()


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {t.name: t for t in tools}


async def error_of(tool: Tool, arguments: dict[str, Any]) -> str:
    with pytest.raises(McpError) as caught:
        await asyncio.wait_for(tool.call(arguments), 30)
    return str(caught.value)


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_stdio_tools_listed_called_and_closed(
    make_servers: MakeServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-planted-in-hashiru")  # ours, not the server's
    servers = make_servers(
        files=stdio("bad-schema", env={"GREETING": "hello"}, approval="never", timeout=20)
    )
    tools = by_name(await servers.tools())

    assert {"files__add", "files__echo", "files__stats", "files__picture"} <= set(tools)
    assert "files__broken" not in tools  # its schema is not JSON Schema
    add = tools["files__add"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.description == "[MCP files] Add two integers."
    assert await add.call({"a": 2, "b": 3}) == {"result": 5}
    assert await tools["files__stats"].call({"numbers": [1, 2]}) == {
        "count": 2,
        "total": 3,
        "mean": 1.5,
    }
    assert await tools["files__picture"].call({}) == {
        "type": "image",
        "mime_type": "image/png",
        "bytes": 68,
    }
    getenv = tools["files__getenv"]
    assert await getenv.call({"name": "GREETING"}) == {"result": "hello"}
    assert await getenv.call({"name": "ANTHROPIC_API_KEY"}) == {"result": None}
    assert (await getenv.call({"name": "PATH"}))["result"] == os.environ["PATH"]
    with pytest.raises(Exception, match="invalid arguments for files__add"):
        await add.call({"a": "two"})  # checked against the server's schema before it is sent

    [status] = await servers.status()
    assert (status.ok, status.transport, status.approval) == (True, "stdio", "never")
    assert status.skipped == [
        "broken: its input schema is not valid JSON Schema at properties/x/type: "
        "'no-such-type' is not valid under any of the given schemas"
    ]
    pid = (await tools["files__pid"].call({}))["result"]
    assert alive(pid)
    await servers.aclose()
    assert not alive(pid)  # ended and reaped: no zombie


async def test_http_tools_results_and_errors(make_servers: MakeServers, http_url: str) -> None:
    servers = make_servers(web=http(http_url, timeout=1))
    tools = by_name(await servers.tools())

    assert await tools["web__add"].call({"a": 40, "b": 2}) == {"result": 42}
    assert await tools["web__echo"].call({"text": "hi"}) == {"result": "hi"}
    assert await error_of(tools["web__fail"], {"message": "no disk"}) == (
        "web__fail failed: Error executing tool fail: no disk"
    )
    huge = await tools["web__huge"].call({"megabytes": 10})
    assert huge["truncated"] is True and len(huge["head"]) == MAX_RESULT_CHARS
    assert "10,000,0" in huge["note"]  # the JSON of ten million characters, and two quotes
    assert await error_of(tools["web__hang"], {}) == (
        "MCP server 'web' did not answer hang within 1 s (its `timeout` setting)."
    )
    assert await tools["web__add"].call({"a": 1, "b": 1}) == {"result": 2}  # still up


async def test_crash_mid_call_restarts_once_then_down(make_servers: MakeServers) -> None:
    servers = make_servers(s=stdio(approval="never", timeout=20))
    tools = by_name(await servers.tools())
    first = await tools["s__pid"].call({})

    assert "it stopped during the call to crash" in await error_of(tools["s__crash"], {})
    second = await tools["s__pid"].call({})  # restarted
    assert second != first and not alive(first["result"])
    assert (await error_of(tools["s__crash"], {})).endswith(
        "it is now down for the rest of this process."
    )
    down = await error_of(tools["s__add"], {"a": 1, "b": 2})
    assert down.startswith("MCP server 's' is down (it stopped during the call to crash)")
    [status] = await servers.status()
    assert status.ok is False and status.error == "it stopped during the call to crash"
    assert not alive(second["result"])


async def test_http_server_that_dies_mid_call(make_servers: MakeServers) -> None:
    with http_server("ok") as url:
        servers = make_servers(remote=McpServerSettings(url=url, timeout=10))
        tools = by_name(await servers.tools())
        error = await error_of(tools["remote__crash"], {})
    assert error == (
        "MCP server 'remote': it stopped during the call to crash; "
        "it will be restarted on the next call."
    )
    gone = await error_of(tools["remote__add"], {"a": 1, "b": 2})  # reconnecting fails
    assert gone.startswith("MCP server 'remote': it did not start: ConnectError")


async def test_servers_that_never_start_say_why(make_servers: MakeServers) -> None:
    servers = make_servers(
        quits=McpServerSettings(**never_starts()),
        missing=McpServerSettings(command="/no/such/mcp-server"),
        nobody=McpServerSettings(url=unused_url()),
        off=McpServerSettings(url=unused_url(), enabled=False),
    )
    assert await servers.tools() == []
    errors = {s.name: (s.ok, s.error) for s in await servers.status()}

    assert errors["quits"] == (
        False,
        "it did not start: the connection closed (the server exited or hung up); "
        f"its stderr ends: {NEVER_STARTS}",
    )
    assert errors["missing"] == (False, "it did not start: no such program: /no/such/mcp-server")
    assert errors["nobody"] == (
        False,
        "it did not start: ConnectError: All connection attempts failed",
    )
    assert servers.unavailable() == [  # enabled servers only: what the CEO is told
        f"MCP server {name!r} is unavailable, so its tools are not offered: {errors[name][1]}"
        for name in ("quits", "missing", "nobody")
    ]
    with pytest.raises(McpError, match=r"No MCP server named 'git' \(configured: quits, "):
        await servers.status("git")


async def test_approval_always_once_never(make_servers: MakeServers, http_url: str) -> None:
    asked: list[McpCall] = []
    answer = {"yes": False}

    async def ask(call: McpCall) -> bool:
        asked.append(call)
        return answer["yes"]

    servers = make_servers(
        always=http(http_url, approval="always"),
        once=http(http_url, approval="once"),
        never=http(http_url),  # an http server's default
    )
    tools = by_name(await servers.tools(ask))
    one = {"a": 1, "b": 2}

    refused = await error_of(tools["always__add"], one)
    assert refused.startswith("The user did not approve this call to always__add (MCP server")
    assert await error_of(tools["once__add"], one)  # refused: asked again next time
    answer["yes"] = True
    for _ in range(2):
        assert await tools["always__add"].call(one) == {"result": 3}
        assert await tools["once__add"].call(one) == {"result": 3}
        assert await tools["never__add"].call(one) == {"result": 3}

    assert [(c.name, c.until_exit) for c in asked] == [
        ("always__add", False),
        ("once__add", True),
        ("always__add", False),
        ("once__add", True),
        ("always__add", False),
    ]
    assert asked[0] == McpCall("always__add", "always", "add", "Add two integers.", one, False)
    answer["yes"] = False  # "once" was allowed: the server's other tools are not asked again
    assert await tools["once__echo"].call({"text": "x"}) == {"result": "x"}
    assert len(asked) == 5


async def test_concurrent_first_calls_ask_once(make_servers: MakeServers, http_url: str) -> None:
    asked: list[McpCall] = []

    async def ask(call: McpCall) -> bool:
        asked.append(call)
        await asyncio.sleep(0.1)
        return True

    servers = make_servers(git=http(http_url, approval="once"))
    tools = by_name(await servers.tools(ask))
    calls = [tools["git__add"].call({"a": n, "b": 1}) for n in range(4)]
    assert await asyncio.gather(*calls) == [{"result": n + 1} for n in range(4)]
    assert len(asked) == 1


async def test_secrets_never_shown(
    make_servers: MakeServers, http_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    servers = make_servers(
        env=stdio(env={"TOKEN": SECRET}, approval="never", timeout=20),
        says=McpServerSettings(**never_starts("token is $TOKEN"), env={"TOKEN": SECRET}),
        wrong=McpServerSettings(url=http_url, headers={"Authorization": f"Bearer {SECRET}"}),
        web=http(http_url),
    )
    tools = by_name(await servers.tools())
    assert await tools["env__getenv"].call({"name": "TOKEN"}) == {"result": SECRET}  # it has it
    shown = [
        # the servers know the secrets and say them; the CEO never sent them
        await error_of(tools["env__fail"], {"message": "bad token $TOKEN"}),
        await error_of(tools["web__fail"], {"message": "saw $MCP_TEST_TOKEN"}),
        json.dumps([s.model_dump() for s in await servers.status()]),
        *servers.unavailable(),
        caplog.text,
    ]
    text = "\n".join(shown)
    assert "token is ***" in text and "HTTP 401" in text and "bad token ***" in text
    assert "saw ***" in text
    assert SECRET not in text and TOKEN not in text


async def test_odd_and_colliding_names(make_servers: MakeServers, http_url: str) -> None:
    with http_server("odd-names") as odd_url:
        servers = make_servers(odd=McpServerSettings(url=odd_url), odd__x=http(http_url))
        tools = await servers.tools()
        names = [t.name for t in tools]
        assert all(TOOL_NAME.fullmatch(name) for name in names) and len(set(names)) == len(names)
        assert "odd__x__add" not in names  # odd's x__add and odd__x's add: both renamed
        colliding = {
            t.description.split("]")[0]: t for t in tools if t.name.startswith("odd__x__add_")
        }
        assert await colliding["[MCP odd"].call({}) == {"result": "done"}
        assert await colliding["[MCP odd__x"].call({"a": 1, "b": 2}) == {"result": 3}
        odd = by_name(tools)[tool_name("odd", "read.file")]
        assert await odd.call({}) == {"result": "done"}


def test_tool_names_every_provider_takes() -> None:
    assert tool_name("git", "status") == "git__status"
    odd = tool_name("files", "read.file")
    long = tool_name("srv", LONG_NAME)
    digit = tool_name("1password", "get")
    for name in (odd, long, digit, tool_name("s", "naïve name")):
        assert TOOL_NAME.fullmatch(name), name
    assert odd.startswith("files__read_file_") and odd != tool_name("files", "read_file")
    assert long == tool_name("srv", LONG_NAME) and len(long) == 64  # deterministic
    assert long != tool_name("srv", LONG_NAME + "y")  # and unique
    assert digit.startswith("_1password__get_")
