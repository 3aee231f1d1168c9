"""Employees keep their conversation, persist across restarts and survive failures."""

from __future__ import annotations

import json

import pytest

from hashiru.agents.roster import Roster
from hashiru.errors import ProviderError, RunLimitError
from hashiru.messages import ModelResponse
from hashiru.providers.scripted import Script
from tests.agents.conftest import MakeCompany, call, hire


async def test_employee_keeps_its_conversation_and_survives_restart(
    make_hashiru: MakeCompany,
) -> None:
    def counter(messages, tools):
        assert messages[0].role == "system" and messages[0].text == "You count."
        questions = [m for m in messages if m.role == "user"]
        return ModelResponse(text=f"question {len(questions)}")

    ceo = Script(
        [
            {"tool_calls": [hire("counter", system_prompt="You count.")]},
            {"tool_calls": [call("ask_agent", name="counter", prompt="one")]},
            {"tool_calls": [call("ask_agent", name="counter", prompt="two")]},
            {"text": "done"},
        ]
    )
    first = make_hashiru({"ceo": ceo, "counter": Script([counter], repeat=True)})
    await first.run("count")
    employee = first.company.roster.get("counter")
    assert (employee.calls, len(employee.history)) == (2, 4)

    later_ceo = Script(
        [{"tool_calls": [call("ask_agent", name="counter", prompt="three")]}, {"text": "ok"}]
    )
    again = make_hashiru({"ceo": later_ceo, "counter": Script([counter], repeat=True)})
    events = []
    result = await again.run("again", on_event=events.append)
    assert result.agents == [], "a restored employee is not hired again"
    answer = json.loads(next(e.content for e in events if e.kind == "tool_call_finished"))
    assert answer["answer"] == "question 3"
    assert again.company.roster.get("counter").calls == 3


async def test_a_failing_employee_is_counted_and_the_run_goes_on(
    make_hashiru: MakeCompany,
) -> None:
    def down(messages, tools):
        raise ProviderError("scripted", "auth", "bad key")

    ceo = Script(
        [
            {"tool_calls": [hire("flaky")]},
            {"tool_calls": [call("ask_agent", name="flaky", prompt="hi")]},
            {"tool_calls": [call("list_agents")]},
            {"text": "it failed, so I answered myself"},
        ]
    )
    events = []
    hashiru = make_hashiru({"ceo": ceo, "flaky": Script([down])})
    result = await hashiru.run("x", on_event=events.append)
    finished = [e for e in events if e.kind == "tool_call_finished"]
    assert not finished[1].ok and "auth" in finished[1].content
    listed = json.loads(finished[2].content)
    assert listed[0]["name"] == "flaky" and listed[0]["failures"] == 1
    assert result.answer.startswith("it failed")
    assert hashiru.company.roster.get("flaky").history == []


async def test_a_run_cut_off_mid_question_leaves_the_roster_whole(
    make_hashiru: MakeCompany,
) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("slow")]},
            {"tool_calls": [call("ask_agent", name="slow", prompt="take your time")]},
        ]
    )
    hashiru = make_hashiru(
        {"ceo": ceo, "slow": Script([{"text": "late", "delay": 5}])}, max_seconds=0.5
    )
    with pytest.raises(RunLimitError):
        await hashiru.run("x")
    restored = Roster(hashiru.company.roster.path).get("slow")
    assert (restored.calls, restored.failures, restored.history) == (0, 0, [])


async def test_ask_model_is_one_metered_call_without_tools(make_hashiru):
    seen = {}

    def answer(messages, tools):
        seen["tools"], seen["messages"] = list(tools), list(messages)
        return {"text": "FINAL ANSWER: 391", "usage": {"input_tokens": 12, "output_tokens": 5}}

    hashiru = make_hashiru({"ceo": Script([{"text": "unused"}]), "solo": Script([answer])})
    result = await hashiru.ask_model("scripted:solo", "What is 17 * 23?")

    assert result.answer == "FINAL ANSWER: 391"
    assert seen["tools"] == [] and [m.text for m in seen["messages"]] == ["What is 17 * 23?"]
    assert (result.steps, result.tool_calls, result.agents) == (1, [], [])
    assert result.usage.input_tokens == 12 and result.usage.output_tokens == 5
    rows = hashiru.ledger.entries(result.run_id)
    assert [r.kind for r in rows] == ["reserve", "settle"]
    assert rows[-1].agent == "scripted:solo"
