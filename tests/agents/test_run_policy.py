"""A run's policy and its money: the run's cap bounds every charge, $0 work always goes through,
and a failed run says what it spent. Real ledger, real google-genai client on a fake server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from hashiru import cli
from hashiru.agents.events import RunFailed, ToolCallFinished
from hashiru.errors import ConfigError, HashiruError
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import RunPolicy, Settings
from tests.agents.conftest import call, hire
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import FakeTurn

FLASH = "gemini:gemini-2.5-flash"


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini(models=("gemini-2.5-flash",)) as fake:
        yield fake


def workspace(gemini: FakeGemini, scripts: dict[str, Script], **settings: object) -> Hashiru:
    config = Settings.load(
        ceo_model="scripted:ceo",
        gemini_api_key="k",
        gemini_base_url=gemini.url,
        retries=0,
        enable_memory=False,
        **settings,
    )
    return Hashiru.from_settings(config, [ScriptedProvider(scripts)])


def finished(events: list) -> dict[str, ToolCallFinished]:
    return {e.name: e for e in events if isinstance(e, ToolCallFinished)}


async def test_a_runs_cap_bounds_its_hire_fee(gemini: FakeGemini) -> None:
    ceo = Script([{"tool_calls": [hire("g", FLASH)]}, {"text": "done"}])
    hashiru = workspace(gemini, {"ceo": ceo}, hire_fee_usd=Decimal("0.01"))
    events: list = []
    result = await hashiru.run("x", on_event=events.append, budget_usd=Decimal("0.001"))

    hired = finished(events)["hire_agent"]
    assert not hired.ok and "Run limit exceeded" in (hired.error or "")
    assert result.cost.expense_usd <= Decimal("0.001")
    assert not [e for e in hashiru.ledger.entries(result.run_id) if e.kind == "hire"]
    assert len(hashiru.company.roster) == 0


async def test_the_cap_can_come_from_the_policy(gemini: FakeGemini) -> None:
    ceo = Script([{"tool_calls": [hire("g", FLASH)]}, {"text": "done"}])
    hashiru = workspace(gemini, {"ceo": ceo}, hire_fee_usd=Decimal("0.01"))
    events: list = []
    policy = hashiru.policy.updated(max_usd=Decimal("0.0099"))
    await hashiru.run("x", on_event=events.append, policy=policy)
    assert "Run limit exceeded" in (finished(events)["hire_agent"].error or "")
    assert hashiru.policy.max_usd is None  # the workspace's default is untouched


def test_hashiru_run_with_a_cap_pays_no_fee_above_it(
    gemini: FakeGemini, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The fault as a new user found it: `--budget-usd 0.001` paid a $0.01 hire fee."""
    script = tmp_path / "ceo.json"
    script.write_text(json.dumps([{"tool_calls": [hire("g", FLASH)]}, {"text": "done"}]))
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
    monkeypatch.setenv("HASHIRU_ENABLE_MEMORY", "false")
    argv = ["run", "hire someone", "--ceo", f"scripted:{script}", "--budget-usd", "0.001"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert cli.main(["ledger", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r for r in rows if r["kind"] == "hire"] == []
    spent = sum(Decimal(r["usd"]) for r in rows if r["kind"] in ("settle", "hire"))
    assert spent <= Decimal("0.001")


async def test_free_work_goes_through_when_the_budget_is_spent(gemini: FakeGemini) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("local")]},
            {"tool_calls": [call("ask_agent", name="local", prompt="hi")]},
            {"text": "finished on local models"},
        ]
    )
    scripts = {"ceo": ceo, "local": Script([{"text": "hello"}])}
    hashiru = workspace(gemini, scripts, budget_usd=Decimal("1"))
    hashiru.ledger.adjust(usd=Decimal("0.50"), note="spent elsewhere")
    hashiru.ledger.set_budget(usd=Decimal("0.25"))  # lowered below what was spent
    events: list = []
    result = await hashiru.run("x", on_event=events.append, budget_usd=Decimal(0))

    assert result.answer == "finished on local models"
    assert all(e.ok for e in finished(events).values())
    assert hashiru.ledger.state().usd_free < 0  # still overspent: nothing was paid


def test_hashiru_run_finishes_on_a_local_model_past_the_budget(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    script = tmp_path / "ceo.json"
    script.write_text(json.dumps([{"text": "done locally"}]))
    monkeypatch.setenv("HASHIRU_ENABLE_MEMORY", "false")
    assert cli.main(["budget", "set", "--usd", "0"]) == 0
    assert cli.main(["run", "hi", "--ceo", f"scripted:{script}", "--budget-usd", "0"]) == 0
    assert "done locally" in capsys.readouterr().out


async def test_a_failed_run_says_what_it_spent(gemini: FakeGemini) -> None:
    # The script ends after the hire: the CEO's next call fails, after $0.01 was paid.
    ceo = Script([{"tool_calls": [hire("g", FLASH)]}])
    hashiru = workspace(gemini, {"ceo": ceo}, hire_fee_usd=Decimal("0.01"))
    events: list = []
    with pytest.raises(HashiruError) as failure:
        await hashiru.run("x", on_event=events.append)

    error = failure.value
    assert error.run_id and error.spent_usd == Decimal("0.01")
    assert hashiru.ledger.state(error.run_id).run_spent == Decimal("0.01")
    assert [e.run_id for e in events if isinstance(e, RunFailed)] == [error.run_id]


async def test_a_failed_single_model_call_says_what_it_spent(gemini: FakeGemini) -> None:
    gemini.plan("gemini-2.5-flash", FakeTurn(status=400, error_message="bad request"))
    hashiru = workspace(gemini, {"ceo": Script([{"text": "-"}])})
    with pytest.raises(HashiruError) as failure:
        await hashiru.ask_model(FLASH, "hi")
    assert failure.value.run_id and failure.value.spent_usd == 0


async def test_runs_with_different_policies_share_one_workspace(gemini: FakeGemini) -> None:
    """Two runs at once on one Hashiru: each offers the tools its own policy allows."""

    def offered(seen: list):
        def turn(messages, tools):
            seen.append({t.name for t in tools})
            return {"text": "ok", "delay": 0.05}

        return turn

    seen_a: list[set[str]] = []
    seen_b: list[set[str]] = []
    scripts = {"a": Script([offered(seen_a)]), "b": Script([offered(seen_b)])}
    hashiru = workspace(gemini, scripts)
    no_hiring = RunPolicy(ceo_model="scripted:a", enable_agent_creation=False)
    default = hashiru.policy.updated(ceo_model="scripted:b")
    await asyncio.gather(hashiru.run("x", policy=no_hiring), hashiru.run("y", policy=default))
    assert "hire_agent" not in seen_a[0] and "ask_agent" in seen_a[0]
    assert "hire_agent" in seen_b[0]


async def test_an_empty_task_is_refused(gemini: FakeGemini) -> None:
    hashiru = workspace(gemini, {"ceo": Script([{"text": "-"}])})
    with pytest.raises(ConfigError, match="empty"):
        await hashiru.run("  ")
