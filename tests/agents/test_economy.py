"""The economy end to end: real providers on fake servers, a scripted CEO, a real ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from hashiru.agents.events import ToolCallFinished
from hashiru.errors import BudgetExceeded
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import call, hire
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeTurn

GIB = 2**30


@pytest.fixture
def fakes() -> Iterator[dict]:
    with (
        FakeGemini(models=("gemini-2.5-flash", "gemini-unpriced-x")) as gemini,
        FakeAnthropic(models={"claude-haiku-4-5": 200_000}, cache_creation_tokens=50) as claude,
        FakeOllama() as ollama,
    ):
        yield {"gemini": gemini, "anthropic": claude, "ollama": ollama}


def company(fakes: dict, ceo: list, **settings: object) -> Hashiru:
    settings = {"ceo_model": "scripted:ceo", **settings}
    config = Settings.load(
        gemini_api_key="k",
        gemini_base_url=fakes["gemini"].url,
        anthropic_api_key="k",
        anthropic_base_url=fakes["anthropic"].url,
        ollama_host=fakes["ollama"].url,
        retries=0,
        **settings,
    )
    return Hashiru.from_settings(config, [ScriptedProvider({"ceo": Script(ceo)})])


def results(events: list) -> list[dict]:
    return [json.loads(e.content) for e in events if isinstance(e, ToolCallFinished)]


async def test_cloud_and_local_calls_cost_exactly_their_usage(fakes: dict) -> None:
    fakes["gemini"].plan(
        "gemini-2.5-flash",
        FakeTurn(text="g", input_tokens=1000, cached_tokens=100, output_tokens=200),
    )
    fakes["anthropic"].plan(
        "claude-haiku-4-5",
        FakeTurn(text="a", input_tokens=1000, cached_tokens=100, output_tokens=200),
    )
    fakes["ollama"].plan("qwen3:0.6b", FakeTurn(text="o", input_tokens=50, output_tokens=5))
    ceo = [
        {
            "tool_calls": [
                hire("g", "gemini:gemini-2.5-flash"),
                hire("a", "anthropic:claude-haiku-4-5"),
                hire("o", "ollama:qwen3:0.6b"),
            ]
        },
        {"tool_calls": [call("ask_agent", name=n, prompt="hi") for n in "gao"]},
        {"text": "done"},
    ]
    events: list = []
    hashiru = company(fakes, ceo, hire_fee_usd=Decimal("0.02"))
    result = await hashiru.run("x", on_event=events.append)

    hired, asked = results(events)[:3], results(events)[3:]
    fees = {h["hired"]: (h["hire_fee_usd"], h["memory_gib"]) for h in hired}
    local_gib = str(round(Decimal(522_653_767) / GIB, 2))
    assert fees == {"g": ("0.02", "0.00"), "a": ("0.02", "0.00"), "o": ("0", local_gib)}
    # gemini-2.5-flash: $0.30 in, $0.03 cached, $2.50 out per million tokens
    gemini = Decimal(900 * 30 + 100 * 3 + 200 * 250) / 10**8
    # claude-haiku-4-5: $1 in, $0.10 cache read, $1.25 cache write, $5 out per million
    claude = Decimal(1000 * 100 + 100 * 10 + 50 * 125 + 200 * 500) / 10**8
    costs = {r["agent"]: Decimal(r["cost_usd"]) for r in asked}
    assert costs == {"g": gemini, "a": claude, "o": Decimal(0)}
    spent = hashiru.ledger.state().spent_by_agent
    assert spent["g"] == gemini + Decimal("0.02") and spent["a"] == claude + Decimal("0.02")
    assert result.cost.expense_usd == gemini + claude + Decimal("0.04")
    assert result.cost.resource_gib_used == round(Decimal(522_653_767) / GIB, 2)
    local_call = next(e for e in hashiru.ledger.entries() if e.kind == "settle" and e.agent == "o")
    assert local_call.seconds > 0 and local_call.price_source == "local compute"


async def test_an_unpriced_cloud_model_is_refused_at_hire(fakes: dict) -> None:
    ceo = [{"tool_calls": [hire("x", "gemini:gemini-unpriced-x")]}, {"text": "ok"}]
    events: list = []
    hashiru = company(fakes, ceo)
    await hashiru.run("x", on_event=events.append)
    error = results(events)[0]["error"]
    assert "gemini:gemini-unpriced-x" in error and "hashiru.toml" in error
    assert len(hashiru.company.roster) == 0 and not hashiru.ledger.active_hires()


async def test_a_price_in_settings_makes_it_hireable(fakes: dict) -> None:
    fakes["gemini"].plan(
        "gemini-unpriced-x", FakeTurn(text="y", input_tokens=10**6, output_tokens=0)
    )
    ceo = [
        {"tool_calls": [hire("x", "gemini:gemini-unpriced-x")]},
        {"tool_calls": [call("ask_agent", name="x", prompt="hi")]},
        {"text": "ok"},
    ]
    prices = {"gemini:gemini-unpriced-x": {"input_per_mtok": "0.5", "output_per_mtok": "1"}}
    events: list = []
    await company(fakes, ceo, prices=prices, hire_fee_usd=0).run("x", on_event=events.append)
    assert Decimal(results(events)[1]["cost_usd"]) == Decimal("0.5")


async def test_hundred_concurrent_asks_never_overspend(fakes: dict) -> None:
    names = [f"e{i:02}" for i in range(100)]
    fakes["gemini"].plan(
        "gemini-2.5-flash",
        *[FakeTurn(text="ok", input_tokens=100, output_tokens=100, delay=1.0) for _ in names],
    )
    ceo = [
        {"tool_calls": [hire(n, "gemini:gemini-2.5-flash") for n in names]},
        {"tool_calls": [call("ask_agent", name=n, prompt="go") for n in names]},
        {"text": "done"},
    ]
    hashiru = company(fakes, ceo, hire_fee_usd=0, max_tokens=100)
    probe = hashiru.company.prices.worst_case("gemini", "gemini-2.5-flash", 1, 100)
    hashiru.ledger.set_budget(usd=probe * 60)  # the holds of about 50 asks, by construction
    events: list = []
    await hashiru.run("x", on_event=events.append)

    answers = results(events)[100:]
    refused = [a["error"] for a in answers if "error" in a]
    assert 0 < len(refused) < 100
    assert all("budget" in reason.lower() and "free" in reason for reason in refused), refused[0]
    state = hashiru.ledger.state()
    assert state.usd_spent <= state.usd_total and state.usd_reserved == 0
    # the asks overlapped at the server: run one after another, they would pass the checks above
    assert fakes["gemini"].max_in_flight >= 10


async def test_warnings_reach_the_ceo_until_the_budget_is_spent(fakes: dict) -> None:
    # Output at $0.01 a token, 16 tokens a call: each call holds and costs exactly $0.16.
    model = "gemini-unpriced-x"
    prices = {f"gemini:{model}": {"input_per_mtok": "0", "output_per_mtok": "10000"}}
    fakes["gemini"].plan(model, *[FakeTurn(text="ok", output_tokens=16) for _ in range(3)])
    seen: list = []

    def ask_again(messages, tools):
        seen.append(json.loads(messages[-1].tool_results[-1].content))
        return {"tool_calls": [call("ask_agent", name="g", prompt="again")]}

    def answer(messages, tools):
        seen.append(json.loads(messages[-1].tool_results[-1].content))
        return {"text": "done with what I have"}

    ceo = [
        {"tool_calls": [hire("g", f"gemini:{model}")]},
        {"tool_calls": [call("ask_agent", name="g", prompt="go")]},
        ask_again,
        ask_again,
        ask_again,
        answer,
    ]
    hashiru = company(fakes, ceo, prices=prices, hire_fee_usd=0, max_tokens=16)
    hashiru.ledger.set_budget(usd=Decimal("0.48"))
    result = await hashiru.run("x")

    first, second, third, refused = seen
    assert "notices" not in first  # 33% spent
    assert "67% of the $0.48 expense budget is spent" in second["notices"][0]
    assert "exhausted" in third["notices"][0] and "local employee" in third["notices"][0]
    assert refused["error"].startswith("Budget exceeded") and "local employee" in refused["error"]
    assert result.answer == "done with what I have"
    assert result.cost.expense_usd == Decimal("0.48") == hashiru.ledger.state().usd_spent


async def test_a_cloud_ceo_out_of_budget_ends_the_run_clearly(fakes: dict, capsys) -> None:
    step = FakeTurn(tool_calls=[("get_budget", {})], input_tokens=1000, output_tokens=1000)
    fakes["gemini"].plan("gemini-2.5-flash", step)
    hashiru = company(
        fakes, [{"text": "unused"}], ceo_model="gemini:gemini-2.5-flash", max_tokens=1000
    )
    hold = hashiru.company.prices.worst_case("gemini", "gemini-2.5-flash", 3000, 1000)
    hashiru.ledger.set_budget(usd=hold * Decimal("1.5"))  # room for one step, not two
    events: list = []
    with pytest.raises(BudgetExceeded, match="budget is free"):
        await hashiru.run("x", on_event=events.append)
    assert events[-1].kind == "error" and "Budget exceeded" in events[-1].message
    state = hashiru.ledger.state()
    assert state.usd_reserved == 0
    assert state.spent_by_agent["ceo"] == Decimal(1000 * 30 + 1000 * 250) / 10**8


async def test_a_failed_call_is_settled_and_a_restart_does_not_hire_again(fakes: dict) -> None:
    fakes["gemini"].plan("gemini-2.5-flash", FakeTurn(status=500, error_message="down"))
    ceo = [
        {"tool_calls": [hire("g", "gemini:gemini-2.5-flash")]},
        {"tool_calls": [call("ask_agent", name="g", prompt="go")]},
        {"text": "done"},
    ]
    hashiru = company(fakes, ceo, hire_fee_usd=Decimal("0.01"))
    await hashiru.run("x")
    failed = [e for e in hashiru.ledger.entries() if e.kind == "settle" and e.agent == "g"]
    assert [(e.ok, e.usd) for e in failed] == [(False, Decimal(0))]
    assert hashiru.ledger.state().usd_reserved == 0

    again = company(fakes, [{"text": "still here"}])
    await again.run("y")
    assert [e.agent for e in again.ledger.entries() if e.kind == "hire"] == ["g"]
    assert set(again.ledger.active_hires()) == {"g"} and "g" in again.company.roster
    assert again.ledger.state().spent_by_agent["g"] == Decimal("0.01")


async def test_local_hires_share_memory_and_refuse_when_full(fakes: dict) -> None:
    fakes["ollama"].models = {"big:1b": 3 * GIB, "other:1b": 2 * GIB}
    ceo = [
        {"tool_calls": [hire("a", "ollama:big:1b")]},
        {"tool_calls": [hire("b", "ollama:big:1b")]},
        {"tool_calls": [hire("c", "ollama:other:1b")]},
        {"tool_calls": [call("fire_agent", name="a"), call("fire_agent", name="b")]},
        {"tool_calls": [hire("c", "ollama:other:1b")]},
        {"text": "done"},
    ]
    events: list = []
    hashiru = company(fakes, ceo, memory_gib=4)
    result = await hashiru.run("x", on_event=events.append)
    first, second, refused, _, _, retried = results(events)
    assert first["memory_free_gib"] == second["memory_free_gib"] == "1.00"
    assert "error" in refused and "1.00 GiB" in refused["error"]
    assert "a" in refused["error"] and "b" in refused["error"]
    assert retried["hired"] == "c" and retried["memory_free_gib"] == "2.00"
    assert result.cost.resource_gib_used == Decimal("2.00")


async def test_switched_off_budgets_record_but_do_not_refuse(fakes: dict) -> None:
    fakes["ollama"].models = {"big:1b": 3 * GIB}
    ceo = [{"tool_calls": [hire("a", "ollama:big:1b")]}, {"text": "done"}]
    hashiru = company(fakes, ceo, memory_gib=1, enable_resource_budget=False)
    await hashiru.run("x")
    state = hashiru.ledger.state()
    assert state.memory_used_bytes == 3 * GIB > state.memory_total_bytes


async def test_run_budget_caps_one_run(fakes: dict) -> None:
    fakes["gemini"].plan("gemini-2.5-flash", FakeTurn(text="ok"))
    ceo = [
        {"tool_calls": [hire("g", "gemini:gemini-2.5-flash")]},
        {"tool_calls": [call("ask_agent", name="g", prompt="go")]},
        {"text": "done"},
    ]
    events: list = []
    hashiru = company(fakes, ceo, hire_fee_usd=Decimal("0.01"))
    await hashiru.run("x", on_event=events.append, budget_usd=Decimal("0.01"))
    error = results(events)[1]["error"]
    assert error.startswith("Run limit exceeded") and "may spend $0.0100" in error


async def test_the_ceo_sees_prices_spend_and_latency(fakes: dict) -> None:
    fakes["gemini"].plan(
        "gemini-2.5-flash", FakeTurn(text="ok", input_tokens=1000, output_tokens=0, delay=0.2)
    )
    ceo = [
        {"tool_calls": [call("list_models"), hire("g", "gemini:gemini-2.5-flash")]},
        {"tool_calls": [call("ask_agent", name="g", prompt="go")]},
        {"tool_calls": [call("list_agents"), call("get_budget")]},
        {"text": "done"},
    ]
    events: list = []
    hashiru = company(fakes, ceo, hire_fee_usd=Decimal("0.05"))
    await hashiru.run("x", on_event=events.append)
    done = {e.name: json.loads(e.content) for e in events if isinstance(e, ToolCallFinished)}
    offers, agents, budget = done["list_models"], done["list_agents"], done["get_budget"]

    by_ref = {offer["ref"]: offer for offer in offers}
    flash = by_ref["gemini:gemini-2.5-flash"]
    assert (flash["hire_fee_usd"], flash["input_per_mtok"], flash["output_per_mtok"]) == (
        "0.05",
        "0.30",
        "2.50",
    )
    assert by_ref["gemini:gemini-unpriced-x"]["price"] == "unknown"
    assert by_ref["ollama:qwen3:0.6b"]["memory_gib"] == "0.49"
    [agent] = agents
    assert Decimal(agent["spent_usd"]) == Decimal("0.05") + Decimal("0.0003")
    assert agent["calls"] == 1 and agent["mean_seconds"] >= 0.2
    assert Decimal(budget["spent_by_agent_usd"]["g"]) == Decimal(agent["spent_usd"])
    assert Decimal(budget["expense_usd"]["total"]) == Decimal("5.00")


async def test_switched_off_expense_budget_records_but_does_not_refuse(fakes: dict) -> None:
    fakes["gemini"].plan(
        "gemini-2.5-flash", FakeTurn(text="ok", input_tokens=0, output_tokens=1000)
    )
    ceo = [
        {"tool_calls": [hire("g", "gemini:gemini-2.5-flash")]},
        {"tool_calls": [call("ask_agent", name="g", prompt="go")]},
        {"text": "done"},
    ]
    events: list = []
    hashiru = company(fakes, ceo, enable_economy_budget=False, hire_fee_usd=Decimal("1"))
    hashiru.ledger.set_budget(usd=Decimal("0.5"))
    await hashiru.run("x", on_event=events.append)
    assert all("error" not in r for r in results(events))
    state = hashiru.ledger.state()
    assert state.usd_spent == Decimal("1") + Decimal("0.0025") > state.usd_total
