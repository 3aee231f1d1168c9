"""The CEO writes tools at runtime: checked, tried in the sandbox, versioned, persisted."""

from __future__ import annotations

import json

import pytest

from hashiru.agents.events import ToolCallFinished
from hashiru.messages import ModelResponse
from hashiru.providers.scripted import Script
from tests.agents.conftest import MakeCompany, call

ADD = "def run(a, b):\n    return {'sum': a + b}\n"
MULTIPLY = "def run(a, b):\n    return {'product': a * b}\n"
PAIR = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}


def create(name: str = "arith", code: str = ADD, **extra: object) -> dict:
    return call(
        "create_tool", name=name, description="Arithmetic.", parameters=PAIR, code=code, **extra
    )


def finished(events: list) -> list[tuple[str, dict]]:
    return [(e.name, json.loads(e.content)) for e in events if isinstance(e, ToolCallFinished)]


async def test_create_call_version_delete_and_restart(make_hashiru: MakeCompany) -> None:
    offered: list[set[str]] = []

    def step(turn):
        def play(messages, tools):
            offered.append({t.name for t in tools})
            return turn

        return play

    ceo = Script(
        [
            step({"tool_calls": [create(examples=[{"a": 1, "b": 2}])]}),
            step({"tool_calls": [call("arith", a=2, b=3)]}),
            step({"tool_calls": [create(code=MULTIPLY)]}),
            step({"tool_calls": [call("arith", a=2, b=3), call("list_tools")]}),
            step({"text": "done"}),
        ]
    )
    events: list = []
    hashiru = make_hashiru({"ceo": ceo})
    await hashiru.run("make a tool", on_event=events.append)
    results = finished(events)

    assert results[0] == (
        "create_tool",
        {"created": "arith", "version": 1, "trial_results": [{"sum": 3}], "enabled": True},
    )
    assert "arith" not in offered[0] and "arith" in offered[1], "offered from the next step"
    assert results[1] == ("arith", {"sum": 5})
    assert results[2][1]["version"] == 2
    by_name = dict(results[3:])
    assert by_name["arith"] == {"product": 6}
    listed = {t["name"]: t for t in by_name["list_tools"]}
    assert listed["arith"]["origin"] == "generated" and listed["arith"]["version"] == 2
    assert listed["hire_agent"]["origin"] == listed["run_python"]["origin"] == "built-in"

    manifest = hashiru.toolsmith.registry.get("arith")
    assert [v.version for v in manifest.versions] == [1, 2]
    assert manifest.versions[0].created_by_run == manifest.versions[1].created_by_run

    restarted = make_hashiru(
        {
            "ceo": Script(
                [
                    {"tool_calls": [call("arith", a=4, b=5)]},
                    {"tool_calls": [call("delete_tool", name="arith")]},
                    {"tool_calls": [call("arith", a=4, b=5)]},
                    {"text": "gone"},
                ]
            )
        }
    )
    events = []
    await restarted.run("again", on_event=events.append)
    after = finished(events)
    assert after[0] == ("arith", {"product": 20})
    assert after[1] == ("delete_tool", {"deleted": "arith"})
    assert "unknown tool 'arith'" in after[2][1]["error"]
    assert restarted.toolsmith.registry.manifests() == []
    assert list((restarted.settings.home / "tools" / ".archive").iterdir())


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"name": "Bad-Name"}, "invalid tool name 'Bad-Name'"),
        ({"name": "ask_agent"}, "'ask_agent' is a built-in tool"),
        ({"name": "read_file"}, "'read_file' is a built-in tool"),
        ({"parameters": {"type": "object", "properties": 3}}, "not a valid JSON Schema"),
        ({"parameters": {"type": "string"}}, "must be a JSON Schema object"),
        ({"code": "def run(:\n"}, "line 1: SyntaxError"),
        ({"code": "x = 1\n"}, "must define a top-level function run"),
        ({"code": "import ctypes\ndef run():\n    return 1\n"}, "line 1: importing ctypes"),
        ({"code": "def run():\n    import socket\n"}, "line 2: socket is for the network"),
        ({"code": "import numpy\ndef run():\n    return 1\n"}, "line 1: numpy is not in"),
        ({"examples": [{"a": "x", "b": 1}]}, "does not fit the schema"),
        (
            {"code": "def run(a, b):\n    return a / 0\n", "examples": [{"a": 1, "b": 2}]},
            "ZeroDivisionError",
        ),
        ({"code": "def run(a, b):\n    return {1, 2}\n", "examples": [{"a": 1, "b": 2}]}, "JSON"),
    ],
)
async def test_bad_tools_are_refused_precisely_and_nothing_is_saved(
    make_hashiru: MakeCompany, arguments: dict, error: str
) -> None:
    request = create()
    request["arguments"] |= arguments
    events: list = []
    hashiru = make_hashiru({"ceo": Script([{"tool_calls": [request]}, {"text": "ok"}])})
    await hashiru.run("x", on_event=events.append)
    [(_, result)] = finished(events)
    assert error in result["error"]
    assert hashiru.toolsmith.registry.manifests() == []


async def test_approval_gates_new_tools(make_hashiru: MakeCompany) -> None:
    asked = []

    async def deny(request):
        asked.append(request.name)
        return False

    ceo = Script(
        [{"tool_calls": [create()]}, {"tool_calls": [call("arith", a=1, b=1)]}, {"text": "ok"}]
    )
    events: list = []
    hashiru = make_hashiru({"ceo": ceo}, tool_approval=True)
    await hashiru.run("x", on_event=events.append, approve=deny)
    created, used = finished(events)
    assert asked == ["arith"]
    assert created[1]["enabled"] is False and "hashiru tools enable arith" in created[1]["note"]
    assert "unknown tool 'arith'" in used[1]["error"]

    async def allow(request):
        return True

    ceo = Script(
        [
            {
                "tool_calls": [
                    create(
                        "net_tool",
                        code="import urllib\ndef run(a, b):\n    return 1\n",
                        needs_network=True,
                    )
                ]
            },
            {"text": "ok"},
        ]
    )
    events = []
    await make_hashiru({"ceo": ceo}).run("x", on_event=events.append, approve=allow)
    [(_, result)] = finished(events)
    assert result["enabled"] is True
    assert hashiru.toolsmith.registry.get("net_tool").needs_network


@pytest.mark.parametrize(
    ("switches", "present", "absent"),
    [
        (
            {"enable_tool_creation": False},
            {"run_python", "read_file", "list_tools"},
            {"create_tool", "delete_tool"},
        ),
        (
            {"enable_tool_invocation": False},
            {"create_tool", "list_tools", "ask_agent"},
            {"run_python", "read_file", "write_file", "list_files", "fetch_url"},
        ),
        (
            {"enable_tool_creation": False, "enable_tool_invocation": False},
            {"ask_agent"},
            {"list_tools", "create_tool", "run_python"},
        ),
    ],
)
async def test_tool_switches(
    make_hashiru: MakeCompany, switches: dict, present: set, absent: set
) -> None:
    names: set[str] = set()

    def look(messages, tools):
        names.update(t.name for t in tools)
        return ModelResponse(text="ok")

    await make_hashiru({"ceo": Script([look])}, **switches).run("x")
    assert present <= names and not absent & names


async def test_run_python_runs_in_the_sandbox(make_hashiru: MakeCompany) -> None:
    code = "import os\nprint('hello')\nsorted(os.environ)"
    ceo = Script([{"tool_calls": [call("run_python", code=code)]}, {"text": "ok"}])
    events: list = []
    await make_hashiru({"ceo": ceo}).run("x", on_event=events.append)
    [(_, result)] = finished(events)
    assert result["stdout"] == "hello\n"
    assert not [name for name in result["result"] if "KEY" in name or "HASHIRU" in name]
