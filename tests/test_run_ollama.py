"""`hashiru run` end to end through a fake Ollama: the CEO hires, asks in parallel, answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from hashiru.cli import main
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeTurn

CEO = "llama3.2:latest"  # the first model the fake lists, so the default CEO
WORKER = "qwen3:0.6b"


def hire(name: str) -> tuple[str, dict]:
    return (
        "hire_agent",
        {
            "name": name,
            "model": f"ollama:{WORKER}",
            "system_prompt": "You multiply.",
            "description": "arithmetic",
        },
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server


def test_ceo_hires_asks_and_answers(fake: FakeOllama, capsys) -> None:
    fake.plan(
        CEO,
        FakeTurn(tool_calls=[hire("calc")], input_tokens=300, output_tokens=40),
        FakeTurn(tool_calls=[("ask_agent", {"name": "calc", "prompt": "17 * 23"})]),
        FakeTurn(text="17 * 23 = 391", input_tokens=400, output_tokens=9),
    )
    fake.plan(WORKER, FakeTurn(text="391", input_tokens=20, output_tokens=2))

    assert main(["run", "What is 17 * 23?", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)

    assert result["ceo_model"] == f"ollama:{CEO}"
    assert result["answer"] == "17 * 23 = 391"
    assert [(c["name"], c["ok"]) for c in result["tool_calls"]] == [
        ("hire_agent", True),
        ("ask_agent", True),
    ]
    assert result["agents"] == [{"name": "calc", "model": f"ollama:{WORKER}", "local": True}]
    assert result["usage"]["input_tokens"] == 300 + 11 + 400 + 20
    employee_call = fake.calls("/api/chat")[2].body
    assert employee_call["model"] == WORKER
    assert employee_call["messages"][0] == {"role": "system", "content": "You multiply."}
    ceo_last = fake.calls("/api/chat")[3].body["messages"]
    assert ceo_last[-1]["role"] == "tool" and '"answer":"391"' in ceo_last[-1]["content"]
    assert {t["function"]["name"] for t in fake.calls("/api/chat")[0].body["tools"]} >= {
        "hire_agent",
        "ask_agent",
        "fire_agent",
        "list_agents",
        "list_models",
    }


def test_two_asks_in_one_step_overlap_at_the_server(fake: FakeOllama, capsys) -> None:
    fake.plan(
        CEO,
        FakeTurn(tool_calls=[hire("a"), hire("b")]),
        FakeTurn(
            tool_calls=[
                ("ask_agent", {"name": "a", "prompt": "1"}),
                ("ask_agent", {"name": "b", "prompt": "2"}),
            ]
        ),
        FakeTurn(text="done"),
    )
    fake.plan(WORKER, FakeTurn(text="x", delay=0.5), FakeTurn(text="y", delay=0.5))

    assert main(["run", "go", "--json"]) == 0
    first, second = [r for r in fake.calls("/api/chat") if r.body["model"] == WORKER]
    assert first.started < second.finished and second.started < first.finished
    assert abs(first.started - second.started) < 0.25


def test_ceo_provider_error_is_a_clear_failure(fake: FakeOllama, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HASHIRU_RETRIES", "1")
    fake.plan(CEO, *[FakeTurn(status=500, error_message="model crashed")] * 2)
    assert main(["run", "x", "--ceo", f"ollama:{CEO}"]) == 1
    err = capsys.readouterr().err
    assert "ollama: server (HTTP 500): model crashed" in err and "Traceback" not in err


def test_one_runtime_serves_several_event_loops(fake: FakeOllama) -> None:
    """Pooled connections belong to a loop; a second asyncio.run must not reuse them."""
    hashiru = Hashiru.from_settings(Settings.load(ceo_model=f"ollama:{CEO}", retries=0))
    fake.plan(CEO, FakeTurn(text="one"), FakeTurn(text="two"))
    assert asyncio.run(hashiru.run("1")).answer == "one"
    assert asyncio.run(hashiru.run("2")).answer == "two"
