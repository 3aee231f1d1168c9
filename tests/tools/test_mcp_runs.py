"""A scripted CEO uses MCP servers' tools in real runs: it reads their results, is told about a
server that did not start, and goes on when a call fails; approval goes through `Hashiru.run`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal

import pytest

from hashiru.agents.events import Event, ToolCallFinished
from hashiru.agents.toolsmith import ToolRequest
from hashiru.messages import Message, ToolSpec
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import McpServerSettings, Settings
from tests.agents.conftest import call, hire
from tests.fakes.mcp_servers import NEVER_STARTS, never_starts, unused_url
from tests.tools.test_mcp import TOKEN, alive, by_name, http, http_url, stdio

__all__ = ["http_url"]  # the module's HTTP test server, shared with test_mcp

MakeHashiru = Callable[..., Hashiru]


@pytest.fixture
async def make_hashiru() -> AsyncIterator[MakeHashiru]:
    """A runtime whose CEO (and employees) are scripted, with these MCP servers configured."""
    made: list[Hashiru] = []

    def make(scripts: dict[str, Script], **servers: McpServerSettings) -> Hashiru:
        settings = Settings.load(ceo_model="scripted:ceo", enable_memory=False, mcp_servers=servers)
        made.append(Hashiru.from_settings(settings, [ScriptedProvider(scripts)]))
        return made[-1]

    yield make
    for hashiru in made:
        await hashiru.aclose()


def last_result(messages: Sequence[Message]) -> dict:
    return json.loads(messages[-1].tool_results[0].content)


def finished(events: list[Event]) -> dict[str, ToolCallFinished]:
    return {e.name: e for e in events if isinstance(e, ToolCallFinished)}


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_the_ceo_answers_with_an_mcp_result(
    make_hashiru: MakeHashiru, http_url: str, transport: str
) -> None:
    offered: list[ToolSpec] = []

    def answer(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        offered.extend(tools)
        return {"text": f"2 + 3 = {last_result(messages)['result']}"}

    ceo = Script([{"tool_calls": [call("calc__add", a=2, b=3)]}, answer])
    server = stdio(timeout=20) if transport == "stdio" else http(http_url)
    hashiru = make_hashiru({"ceo": ceo}, calc=server)
    asked: list[ToolRequest] = []

    async def approve(request: ToolRequest) -> bool:
        asked.append(request)
        return True

    result = await hashiru.run("What is 2 + 3?", approve=approve)

    assert result.answer == "2 + 3 = 5"
    spec = next(t for t in offered if t.name == "calc__add")
    assert spec.parameters["required"] == ["a", "b"]
    if transport == "stdio":  # approval "once" by default for a command, "never" for a url
        assert asked == [
            ToolRequest(
                name="calc__add",
                description="Add two integers.",
                server="calc",
                arguments={"a": 2, "b": 3},
                until_exit=True,
            )
        ]
        pid = (await by_name(await hashiru.mcp.tools())["calc__pid"].call({}))["result"]
        await hashiru.aclose()
        assert not alive(pid)
    else:
        assert asked == []


async def test_failing_calls_are_tool_errors_and_the_run_goes_on(
    make_hashiru: MakeHashiru, http_url: str
) -> None:
    ceo = Script(
        [
            {
                "tool_calls": [
                    hire("analyst"),
                    call("web__fail", message="disk full, $MCP_TEST_TOKEN"),
                ]
            },
            {"tool_calls": [call("web__hang")]},
            {"tool_calls": [call("web__huge", megabytes=10), call("web__add", a=1)]},
            {"tool_calls": [call("web__add", a=1, b=2)]},
            {"text": "done"},
        ]
    )
    hashiru = make_hashiru(
        {"ceo": ceo, "analyst": Script([{"text": "ok"}])}, web=http(http_url, timeout=1)
    )
    events: list[Event] = []
    bounded = hashiru.policy.updated(max_seconds=30)  # a hang that outlives its timeout fails
    result = await hashiru.run("try everything", on_event=events.append, policy=bounded)

    calls = finished(events)
    # the server said its bearer token (a header's secret): the CEO and the events see ***
    assert calls["web__fail"].error == "web__fail failed: Error executing tool fail: disk full, ***"
    assert calls["web__hang"].error == (
        "MCP server 'web' did not answer hang within 1 s (its `timeout` setting)."
    )
    assert calls["web__huge"].ok and calls["web__huge"].result["truncated"] is True
    assert calls["web__add"].result == {"result": 3}
    assert result.answer == "done"
    assert [a.name for a in result.agents] == ["analyst"]
    state = hashiru.ledger.state(result.run_id)
    assert state.run_reserved == Decimal(0)
    shown = [e.model_dump_json() for e in events] + [m.model_dump_json() for m in result.messages]
    assert TOKEN not in "".join(shown)


async def test_a_server_that_does_not_start_is_left_out_and_named(
    make_hashiru: MakeHashiru,
) -> None:
    offered: list[set[str]] = []

    def step(turn: dict) -> Callable:
        def play(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
            offered.append({t.name for t in tools})
            return turn

        return play

    ceo = Script([step({"tool_calls": [call("list_tools")]}), step({"text": "done"})])
    hashiru = make_hashiru({"ceo": ceo}, broken=McpServerSettings(**never_starts()))
    events: list[Event] = []
    result = await hashiru.run("anything", on_event=events.append)

    assert result.answer == "done"
    assert not any(name.startswith("broken__") for name in offered[0])
    notices = json.loads(result.messages[-2].tool_results[0].content)["notices"]
    assert notices == [
        "MCP server 'broken' is unavailable, so its tools are not offered: it did not start: "
        "the connection closed (the server exited or hung up); its stderr ends: " + NEVER_STARTS
    ]


async def test_mcp_tools_follow_the_switches(make_hashiru: MakeHashiru, http_url: str) -> None:
    seen: list[set[str]] = []

    def look(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        seen.append({t.name for t in tools})
        return {"text": "done"}

    hashiru = make_hashiru(
        {"ceo": Script([look], repeat=True)},
        on=http(http_url),
        off=http(http_url, enabled=False),
        nobody=McpServerSettings(url=unused_url()),
    )
    await hashiru.run("one", policy=hashiru.policy.updated(enable_tool_invocation=False))
    assert not any("__" in name for name in seen[0])
    assert hashiru.mcp.unavailable() == []  # no server was started for that run

    await hashiru.run("two")
    assert {"on__add", "on__echo"} <= seen[1] and not any(n.startswith("off__") for n in seen[1])


async def test_a_made_tool_cannot_take_an_mcp_tool_name(
    make_hashiru: MakeHashiru, http_url: str
) -> None:
    code = "def run(a, b):\n    return a * b\n"
    schema = {"type": "object", "properties": {"a": {"type": "number"}}}
    make = call("create_tool", name="web__add", description="d", parameters=schema, code=code)
    ceo = Script([{"tool_calls": [make]}, {"text": "done"}])
    hashiru = make_hashiru({"ceo": ceo}, web=http(http_url))
    events: list[Event] = []
    await hashiru.run("shadow it", on_event=events.append)
    assert (
        finished(events)["create_tool"].error
        == "'web__add' is a built-in tool; choose another name"
    )


def test_an_mcp_request_shows_its_arguments() -> None:
    request = ToolRequest(
        name="git__commit", description="Commit.", server="git", arguments={"m": "x"}
    )
    assert request.shown == ('{\n  "m": "x"\n}', "json")
    assert request.question == "Allow this call?"
    once = request.model_copy(update={"until_exit": True})
    assert once.question == "Allow it, and the later calls to git's tools until HASHIRU exits?"
    written = ToolRequest(name="t", description="d", code="def run(): ...", needs_network=True)
    assert (written.shown, written.question) == (("def run(): ...", "python"), "Enable it?")
