"""The CEO loop on scripted models: answers, tool errors as observations, caps, concurrency."""

from __future__ import annotations

import json
import time

import pytest

from hashiru.agents.events import AgentHired, Answer, ToolCallFinished, ToolCallStarted
from hashiru.agents.hr_tools import TOOL_NAMES as HR_TOOL_NAMES
from hashiru.errors import RunLimitError
from hashiru.messages import ModelResponse, TextDelta, Usage
from hashiru.providers.scripted import Script
from tests.agents.conftest import MakeCompany, call, hire


async def test_direct_answer_reports_usage(make_hashiru: MakeCompany) -> None:
    turn = ModelResponse(text="391", usage=Usage(input_tokens=50, output_tokens=2))
    events = []
    result = await make_hashiru({"ceo": Script([turn])}).run("17*23?", on_event=events.append)
    assert (result.answer, result.steps, result.ceo_model) == ("391", 1, "scripted:ceo")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (50, 2)
    assert [e.kind for e in events] == ["text_delta", "step_finished", "answer"]


async def test_hire_ask_fire_and_answer(make_hashiru: MakeCompany) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("calc", system_prompt="Multiply.")]},
            {"tool_calls": [call("ask_agent", name="calc", prompt="17*23")]},
            {"tool_calls": [call("fire_agent", name="calc")]},
            {"text": "17 * 23 = 391"},
        ]
    )
    calc = Script([{"text": "391", "usage": {"input_tokens": 9, "output_tokens": 1}}])
    events = []
    hashiru = make_hashiru({"ceo": ceo, "calc": calc})
    result = await hashiru.run("What is 17 * 23?", on_event=events.append)

    assert result.answer == "17 * 23 = 391"
    assert [(a.name, a.model) for a in result.agents] == [("calc", "scripted:calc")]
    assert [c.name for c in result.tool_calls] == ["hire_agent", "ask_agent", "fire_agent"]
    assert all(c.ok for c in result.tool_calls)
    assert result.usage_by_agent["calc"].input_tokens == 9
    assert result.usage.input_tokens == result.usage_by_agent["ceo"].input_tokens + 9
    asked = next(e for e in events if isinstance(e, ToolCallFinished) and e.name == "ask_agent")
    assert json.loads(asked.content)["answer"] == "391"
    assert any(isinstance(e, AgentHired) and e.name == "calc" for e in events)
    assert len(hashiru.company.roster) == 0


async def test_malformed_calls_go_back_to_the_model(make_hashiru: MakeCompany) -> None:
    seen = []

    def ceo_second_turn(messages, tools):
        seen.extend(messages[-1].tool_results)
        return ModelResponse(text="sorry")

    ceo = Script(
        [
            {
                "tool_calls": [
                    call("summon_demon"),
                    call("ask_agent", name="x"),
                    hire("bad name!", "scripted:calc"),
                ]
            },
            ceo_second_turn,
        ]
    )
    result = await make_hashiru({"ceo": ceo}).run("hi")
    assert result.answer == "sorry"
    errors = [json.loads(r.content)["error"] for r in seen]
    assert all(r.is_error for r in seen)
    assert "unknown tool 'summon_demon'" in errors[0]
    assert "'prompt' is a required property" in errors[1]
    assert "Invalid agent name 'bad name!'" in errors[2]
    assert [c.ok for c in result.tool_calls] == [False, False, False]


async def test_hiring_an_unknown_model_fails_at_hire_time(make_hashiru: MakeCompany) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("a", "scripted:missing")]},
            {"tool_calls": [hire("b", "gpt-5")]},
            {"text": "done"},
        ]
    )
    hashiru = make_hashiru({"ceo": ceo})
    events = []
    await hashiru.run("hire", on_event=events.append)
    results = [json.loads(e.content)["error"] for e in events if isinstance(e, ToolCallFinished)]
    assert "no script named 'missing'" in results[0]
    assert "not of the form provider:model" in results[1]
    assert len(hashiru.company.roster) == 0


async def test_two_asks_in_one_step_run_concurrently(make_hashiru: MakeCompany) -> None:
    hires = [hire(n) for n in ("a", "b")]
    ceo = Script(
        [
            {"tool_calls": hires},
            {
                "tool_calls": [
                    call("ask_agent", name="a", prompt="p"),
                    call("ask_agent", name="b", prompt="p"),
                ]
            },
            {"text": "both answered"},
        ]
    )
    began: list[float] = []  # when each employee's model call began
    finished: list[float] = []  # when each ask ended

    def slow(messages: object, tools: object) -> dict:
        began.append(time.monotonic())
        return {"text": "ok", "delay": 0.4}

    def on_event(event: object) -> None:
        if isinstance(event, ToolCallFinished) and event.name == "ask_agent":
            finished.append(time.monotonic())

    hashiru = make_hashiru({"ceo": ceo, "a": Script([slow]), "b": Script([slow])})
    result = await hashiru.run("go", on_event=on_event)
    assert result.answer == "both answered"
    asks = [c for c in result.tool_calls if c.name == "ask_agent"]
    assert all(c.ok and c.seconds >= 0.4 for c in asks)
    assert len(began) == 2 and max(began) < min(finished), "the two 0.4 s asks must overlap"


async def test_step_cap_warns_on_the_last_step_then_fails(make_hashiru: MakeCompany) -> None:
    prompts = []

    def keep_calling(messages, tools):
        prompts.append(messages[-1].text)
        return ModelResponse(tool_calls=[{"id": "1", "name": "list_agents"}])

    with pytest.raises(RunLimitError, match="within 3 steps"):
        await make_hashiru({"ceo": Script([keep_calling], repeat=True)}, max_steps=3).run("x")
    assert "last step" in prompts[-1] and "last step" not in prompts[-2]


async def test_wall_clock_cap(make_hashiru: MakeCompany) -> None:
    ceo = Script([{"text": "late", "delay": 2}])
    with pytest.raises(RunLimitError, match=r"longer than 0\.2 s"):
        await make_hashiru({"ceo": ceo}, max_seconds=0.2).run("x")


@pytest.mark.parametrize(
    ("switches", "offered"),
    [
        (
            {},
            {
                "get_budget",
                "ask_agent",
                "rate_agent",
                "list_agents",
                "list_models",
                "hire_agent",
                "fire_agent",
            },
        ),
        (
            {"enable_agent_creation": False},
            {"get_budget", "ask_agent", "rate_agent", "list_agents", "list_models"},
        ),
        ({"enable_local_agents": False, "enable_cloud_agents": False}, {"get_budget"}),
    ],
)
async def test_switched_off_tools_are_not_offered(
    make_hashiru: MakeCompany, switches: dict, offered: set
) -> None:
    names = []

    def answer(messages, tools):
        names.extend(t.name for t in tools)
        return ModelResponse(text="ok")

    await make_hashiru({"ceo": Script([answer])}, **switches).run("x")
    assert set(names) & set(HR_TOOL_NAMES) == offered


async def test_local_switch_refuses_local_hires(make_hashiru: MakeCompany) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("a")]},
            {"text": "done"},
        ]
    )
    events = []
    scripts = {"ceo": ceo, "a": Script([{"text": "x"}])}
    await make_hashiru(scripts, enable_local_agents=False).run("x", on_event=events.append)
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert "local agents is switched off" in finished[0].content
    assert [e.name for e in events if isinstance(e, ToolCallStarted)] == ["hire_agent"]
    assert isinstance(events[-1], Answer)


async def test_a_scripted_turn_with_token_delay_streams_word_by_word(
    make_hashiru: MakeCompany,
) -> None:
    text = "Waves fold into light."
    hashiru = make_hashiru({"ceo": Script([{"text": text, "token_delay": 0.01}])})
    events: list = []
    result = await hashiru.run("a haiku", on_event=events.append)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["Waves ", "fold ", "into ", "light."]
    assert result.answer == text
