"""`bench report` in a terminal: readable at 80 columns, no cell cut short."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from bench.hashirubench.report import _print
from bench.hashirubench.stats import wilson
from bench.hashirubench.summary import Comparison, EmployeeStats, RunStats, Summary


def run(system: str, model: str, solved: int) -> RunStats:
    low, high = wilson(solved, 8)
    return RunStats(
        task="gsm8k", system=system, model=model, seed=0, file="f", items=8, errors=1,
        accuracy=solved / 8, ci_low=low, ci_high=high, mean_cost_usd=Decimal(0),
        total_cost_usd=Decimal(0), mean_input_tokens=1234.0, mean_output_tokens=56.0,
        mean_seconds=3.25,
    )  # fmt: skip


def test_the_report_fits_80_columns_and_cuts_nothing() -> None:
    model = "embedded:smollm2-135m"
    summary = Summary(
        runs=[run("hashiru", model, 3), run("baseline", model, 2)],
        comparisons=[
            Comparison(
                task="gsm8k",
                hashiru_model=model,
                baseline_model=model,
                items=8,
                hashiru_accuracy=0.375,
                baseline_accuracy=0.25,
                wins=2,
                losses=1,
                mcnemar_p=1.0,
                hashiru_mean_cost_usd=Decimal(0),
                baseline_mean_cost_usd=Decimal(0),
                hashiru_mean_seconds=3.25,
                baseline_mean_seconds=0.5,
            )
        ],
        employees=[
            EmployeeStats(
                task="jeebench",
                model="ollama:qwen2.5-coder:32b-instruct-q4_K_M",
                answers=120,
                right=57,
                accuracy=0.475,
                ci_low=0.39,
                ci_high=0.56,
                mean_score=0.51,
            )
        ],
    )
    console = Console(width=80, record=True)
    _print(summary, console)
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for shown in ("gsm8k · hashiru", "gsm8k · baseline", model, "37.5%", "3.25", "1234/56"):
        assert shown in text
    assert "38% / 25%" in text and "2 / 1" in text and "of 8 items, 1 failed" in text
    assert (
        "qwen2.5-coder" in text and "| 120 " in text.replace("│", "|") and "47.5% (39%-56%)" in text
    )
