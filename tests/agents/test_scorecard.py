"""The CEO's side of the scorecard: every ask is filed, rated once, and steers `auto:<kind>`."""

from __future__ import annotations

import json
import random

from hashiru.agents.events import ToolCallFinished
from hashiru.errors import ProviderError
from hashiru.providers.scripted import Script
from tests.agents.conftest import MakeCompany, call, hire
from tests.agents.test_economy import GIB, company, fakes  # noqa: F401 (a fixture)
from tests.economy.conftest import file_asks


def finished(events: list) -> list[ToolCallFinished]:
    return [e for e in events if isinstance(e, ToolCallFinished)]


def contents(events: list) -> list[dict]:
    return [json.loads(e.content) for e in finished(events)]


def rate(name: str, verdict: str, note: str = "") -> dict:
    return call("rate_agent", name=name, verdict=verdict, note=note)


def steady(text: str) -> Script:
    return Script([{"text": text}], repeat=True)


async def test_each_ask_is_filed_and_the_ceo_rates_it_once(make_hashiru: MakeCompany) -> None:
    def down(messages, tools):
        raise ProviderError("scripted", "server", "overloaded")

    ceo = Script(
        [
            {"tool_calls": [hire("solver"), hire("flaky"), hire("mute")]},
            {"tool_calls": [call("ask_agent", name="solver", prompt="2+2?", kind="math")]},
            {"tool_calls": [rate("solver", "good", "checked: 4")]},
            {"tool_calls": [rate("solver", "bad")]},  # the same answer again: refused
            {"tool_calls": [call("ask_agent", name="flaky", prompt="3+3?", kind="math")]},
            {"tool_calls": [call("ask_agent", name="mute", prompt="4+4?", kind="math")]},
            {"tool_calls": [rate("flaky", "good")]},  # a failed ask has no answer to rate
            {"tool_calls": [rate("nobody", "good")]},
            {"tool_calls": [call("ask_agent", name="solver", prompt="hi", kind="poetry")]},
            {"tool_calls": [call("list_agents")]},
            {"text": "done"},
        ]
    )
    scripts = {
        "ceo": ceo,
        "solver": steady("4"),
        "flaky": Script([down], repeat=True),
        "mute": steady(""),
    }
    hashiru = make_hashiru(scripts)
    events: list = []
    result = await hashiru.run("add", on_event=events.append)
    done = finished(events)
    rated = json.loads(done[4].content)
    assert rated["verdict"] == "good" and rated["record"]["good"] == 1
    assert "already rated by ceo" in (done[5].error or "")
    assert "already counts as failed" in (done[8].error or "")
    assert "No employee named 'nobody'" in (done[9].error or "")
    assert "Unknown task kind 'poetry'" in (done[10].error or "")
    agents = {a["name"]: a for a in json.loads(done[11].content)}
    assert agents["solver"]["recent_verdicts"] == ["good"]
    assert agents["flaky"]["recent_verdicts"] == ["failed"]
    assert agents["mute"]["recent_verdicts"] == ["failed"], "an empty answer is a failure"

    asks = hashiru.outcomes.asks(run_id=result.run_id)
    assert [(a.agent, a.kind, a.verdict) for a in asks] == [
        ("solver", "math", "good"),
        ("flaky", "math", "failed"),
        ("mute", "math", "failed"),
    ], "the bad-kind ask was refused before anything was asked or filed"
    assert "overloaded" in asks[1].note and asks[2].note == "it gave an empty answer"
    assert asks[0].input_tokens > 0 and asks[0].seconds >= 0
    assert hashiru.company.roster.get("solver").calls == 1, "the refused ask reached nobody"
    by_model = {line.model: line for line in hashiru.scorecard("math")}
    assert (by_model["scripted:solver"].good, by_model["scripted:flaky"].failed) == (1, 1)


async def test_an_employee_answers_under_the_kind_it_was_hired_for(
    make_hashiru: MakeCompany,
) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("w", "auto:writing")]},
            {"tool_calls": [call("ask_agent", name="w", prompt="a haiku")]},
            {"tool_calls": [call("ask_agent", name="w", prompt="17*3?", kind="math")]},
            {"text": "done"},
        ]
    )
    hashiru = make_hashiru({"ceo": ceo, "poet": steady("leaves fall")})
    file_asks(hashiru.outcomes, "scripted:poet", "writing", ["good"] * 20 + ["bad"] * 0)
    hashiru.company.rng = random.Random(1)
    events: list = []
    await hashiru.run("x", on_event=events.append)
    answers = contents(events)[1:]
    assert [a["kind"] for a in answers] == ["writing", "math"]
    filed = hashiru.outcomes.asks(agent="w")
    assert [a["ask_id"] for a in answers] == [ask.id for ask in filed]
    assert [ask.kind for ask in filed] == ["writing", "math"]


async def test_auto_hires_the_best_record_for_the_money_and_escalates_after_a_bad_answer(
    make_hashiru: MakeCompany,
) -> None:
    ceo = Script(
        [
            {"tool_calls": [call("list_models", kind="math")]},
            {"tool_calls": [hire("first", "auto:math")]},
            {"tool_calls": [call("ask_agent", name="first", prompt="17*23?")]},
            {"tool_calls": [rate("first", "bad", "391 expected")]},
            {"tool_calls": [hire("second", "auto:math")]},
            {"text": "done"},
        ]
    )
    scripts = {"ceo": ceo, "strong": steady("391"), "weak": steady("390")}
    hashiru = make_hashiru(scripts)
    hashiru.company.rng = random.Random(7)
    file_asks(hashiru.outcomes, "scripted:strong", "math", ["good"] * 40 + ["bad"] * 2)
    file_asks(hashiru.outcomes, "scripted:weak", "math", ["good"] * 2 + ["bad"] * 40)
    events: list = []
    await hashiru.run("x", on_event=events.append)
    listed, first, _, _, second = contents(events)
    offers = {offer["ref"]: offer for offer in listed}
    assert "recommended" in offers["scripted:strong"]
    assert "recommended" not in offers["scripted:weak"]
    assert offers["scripted:strong"]["record"]["good"] == 40
    assert offers["scripted:weak"]["record"]["bad"] == 40
    assert first["model"] == "scripted:strong"
    choice = first["choice"]
    assert choice["kind"] == "math" and choice["ref"] == "scripted:strong"
    assert "40 good of 42 judged on math" in choice["reason"]
    numbers = {c["ref"]: c for c in choice["candidates"]}
    assert numbers["scripted:weak"]["drawn_success"] < numbers["scripted:strong"]["drawn_success"]
    assert second["model"] != "scripted:strong", "after its bad answer, another model is tried"
    assert "judged bad in this run" in numbers_of(second)["scripted:strong"]["passed_over"]
    assert hashiru.company.roster.get("first").kind == "math"


def numbers_of(receipt: dict) -> dict[str, dict]:
    return {c["ref"]: c for c in receipt["choice"]["candidates"]}


async def test_auto_explores_an_untried_model_now_and_then(make_hashiru: MakeCompany) -> None:
    """Thompson sampling: a proven model wins most draws, never all of them."""
    hashiru = make_hashiru({"proven": steady("1"), "new": steady("2")})
    file_asks(hashiru.outcomes, "scripted:proven", "code", ["good"] * 7 + ["bad"] * 3)
    hashiru.company.rng = random.Random(0)
    meter = hashiru.meter("choosing")
    picks = [(await hashiru.company.recommend(meter, "code")).ref for _ in range(200)]
    tried = picks.count("scripted:new")
    assert 0 < tried < picks.count("scripted:proven")


async def test_auto_passes_over_what_the_budgets_cannot_pay_for(fakes: dict) -> None:  # noqa: F811
    fakes["ollama"].models = {"big:1b": 3 * GIB}
    ceo = [{"tool_calls": [hire("pick", "auto:knowledge")]}, {"text": "done"}]
    hashiru = company(fakes, ceo, memory_gib=2, budget_usd="0.005", hire_fee_usd="0.01")
    events: list = []
    await hashiru.run("x", on_event=events.append)
    [receipt] = contents(events)
    assert "error" not in receipt, receipt
    numbers = numbers_of(receipt)
    assert "free memory" in numbers["ollama:big:1b"]["passed_over"]
    assert "hire fee" in numbers["gemini:gemini-2.5-flash"]["passed_over"]
    assert "no price" in numbers["gemini:gemini-unpriced-x"]["passed_over"]
    assert "hire fee" in numbers["anthropic:claude-haiku-4-5"]["passed_over"]
    allowed = {ref for ref, c in numbers.items() if c["passed_over"] is None}
    assert allowed and allowed <= {"scripted:ceo", "embedded:smollm2-135m"}, "small local ones"
    assert receipt["model"] in allowed
    await hashiru.aclose()


async def test_auto_with_nothing_to_hire_says_why(make_hashiru: MakeCompany) -> None:
    ceo = Script([{"tool_calls": [hire("x", "auto:code")]}, {"text": "done"}])
    hashiru = make_hashiru({"ceo": ceo}, enable_local_agents=False)
    events: list = []
    await hashiru.run("x", on_event=events.append)
    [result] = finished(events)
    assert not result.ok and "auto:code found no model to hire" in (result.error or "")
