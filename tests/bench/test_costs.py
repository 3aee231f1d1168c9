"""Costs are exactly what the calls imply: both arms against a fake Gemini, priced by hand.

The real google-genai client talks to a fake Gemini on 127.0.0.1. Every call reports 1,000
input and 100 output tokens at $1 and $10 per million (a price override), so a call costs
$0.002. The baseline makes one call per item; HASHIRU's CEO hires a Gemini employee ($0.01
fee), asks it once and answers: three CEO calls, one employee call and the fee, $0.018.
A failed item keeps what it spent before it failed.
"""

from __future__ import annotations

from decimal import Decimal

from hashiru import NO_RUN, Hashiru, ProviderError, Script, ScriptedProvider, Settings
from tests.bench.conftest import Bench
from tests.bench.priced_gemini import MODEL, QuizGemini
from tests.bench.quiz import ITEMS, call


def test_each_arm_costs_exactly_its_calls_and_fees(bench: Bench, gemini: QuizGemini) -> None:
    assert bench.run("gsm8k", "baseline", MODEL, "--concurrency", "4") == 0
    assert bench.run("gsm8k", "hashiru", MODEL, "--concurrency", "4") == 0
    assert bench.report() == 0

    for record in bench.records("gsm8k", "baseline", MODEL):
        assert Decimal(record["expense_usd"]) == Decimal("0.002")
    for record in bench.records("gsm8k", "hashiru", MODEL):
        assert Decimal(record["expense_usd"]) == Decimal("0.018")
        assert record["employees"] == [{"name": record["id"].replace("test-", "g"), "model": MODEL}]
    runs = {run["system"]: run for run in bench.summary()["runs"]}
    assert Decimal(runs["baseline"]["mean_cost_usd"]) == Decimal("0.002")
    assert Decimal(runs["baseline"]["total_cost_usd"]) == Decimal("0.02")
    assert Decimal(runs["hashiru"]["mean_cost_usd"]) == Decimal("0.018")
    assert Decimal(runs["hashiru"]["total_cost_usd"]) == Decimal("0.18")
    assert (runs["baseline"]["accuracy"], runs["hashiru"]["accuracy"]) == (0.5, 0.6)
    assert len(gemini.calls(":generateContent")) + len(
        gemini.calls(":streamGenerateContent")
    ) == ITEMS * (1 + 3 + 1)
    markdown = (bench.out / "summary.md").read_text()
    assert "| $0.018 vs $0.002 |" in markdown


def test_a_failed_item_records_its_run_and_what_it_spent(bench: Bench, gemini: QuizGemini) -> None:
    """A free CEO hires a Gemini employee (the $0.01 fee), then its model fails: the item's
    record keeps the fee the ledger charged to its run, not `null`."""
    hire = {"name": "g1", "model": MODEL, "system_prompt": "s", "description": "d"}

    def fail(messages: object, tools: object) -> dict:
        raise ProviderError("scripted", "bad_request", "a planned failure after the hire")

    ceo = Script([{"tool_calls": [call("hire_agent", **hire)]}, fail])
    providers = [ScriptedProvider({"ceo": ceo})]
    assert bench.run("gsm8k", "hashiru", "scripted:ceo", "--limit", "1", providers=providers) == 0
    assert bench.report() == 0

    [record] = bench.records("gsm8k", "hashiru", "scripted:ceo")
    assert "ProviderError" in record["error"] and record["score"] == 0
    assert Decimal(record["expense_usd"]) == Decimal("0.01")
    assert record["employees"] == [{"name": "g1", "model": MODEL}]
    ledger = Hashiru.from_settings(Settings.load()).ledger
    assert ledger.state(record["run_id"]).run_spent == Decimal("0.01")
    run_rows = ledger.entries(record["run_id"])
    assert [(r.agent, r.usd) for r in run_rows if r.kind == "hire"] == [("g1", Decimal("0.01"))]
    assert [r.run_id for r in ledger.entries() if r.kind == "fire"] == [NO_RUN], "fired after"
    [stats] = bench.summary()["runs"]
    assert (stats["errors"], stats["mean_cost_usd"]) == (1, None)
    assert Decimal(stats["total_cost_usd"]) == Decimal("0.01")
