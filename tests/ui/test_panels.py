"""The side panels read the workspace's real state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hashiru.economy.ledger import BudgetState, HostMemory
from hashiru.economy.resources import GIB
from hashiru.providers.scripted import Script
from hashiru.ui import panels
from tests.agents.conftest import call, hire


async def test_team_and_ledger_show_a_hire_and_its_calls(make_hashiru):
    ceo = Script(
        [
            {"tool_calls": [hire("poet")]},
            {"tool_calls": [call("ask_agent", name="poet", prompt="a haiku")]},
            {"text": "done"},
        ]
    )
    hashiru = make_hashiru({"ceo": ceo, "poet": Script([{"text": "waves"}])}, enable_memory=False)
    before = datetime.now(UTC)
    await hashiru.run("go")

    [row] = panels.team_rows(hashiru)
    assert row[:5] == ["poet", "scripted:poet", "local", 1, 0]
    ledger = panels.ledger_rows(hashiru.ledger.entries())
    kinds = [r[2] for r in ledger]
    assert kinds[0] == "settle" and "hire" in kinds  # latest first
    frame = panels.spend_frame(hashiru.ledger.entries(), before)
    assert frame.iloc[0]["spent USD"] == 0.0
    assert list(frame["spent USD"]) == sorted(frame["spent USD"])  # cumulative


def test_budget_gauges_show_shares_and_amounts():
    state = BudgetState(
        usd_total=Decimal(10),
        usd_spent=Decimal("2.5"),
        usd_reserved=Decimal("1"),
        usd_free=Decimal("6.5"),
        memory_total_bytes=8 * GIB,
        memory_used_bytes=2 * GIB,
        memory_free_bytes=6 * GIB,
        spent_by_agent={},
        models_in_memory={},
        budgets={
            "": HostMemory(total_bytes=8 * GIB, used_bytes=2 * GIB, free_bytes=6 * GIB, models={})
        },
        loaded={},
    )
    html = panels.budget_html(state)
    assert "width:25.0%" in html and "width:10.0%" in html  # spent, reserved
    assert "$6.5000 free of $10.00" in html
    assert "6.00 GiB free of 8.00 GiB" in html or "6 GiB free of 8 GiB" in html


async def test_tools_list_origins_and_follow_the_switches(make_hashiru):
    hashiru = make_hashiru({"ceo": Script([{"text": "hi"}])}, enable_memory=False)
    origins = {row[0]: row[1] for row in panels.tool_rows(hashiru, hashiru.policy)}
    assert origins["hire_agent"] == "workforce"
    assert origins["run_python"] == "built-in"
    assert "save_memory" not in origins
    off = hashiru.policy.updated(enable_agent_creation=False, enable_tool_invocation=False)
    names = {row[0] for row in panels.tool_rows(hashiru, off)}
    assert "hire_agent" not in names and "run_python" not in names and "ask_agent" in names
    code, language = panels.tool_source(hashiru, hashiru.policy, "run_python")
    assert language == "json" and '"name": "run_python"' in code
