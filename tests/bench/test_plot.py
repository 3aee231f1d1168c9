"""The cost-against-accuracy plot, at the edges of its range too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bench.hashirubench.plot import cost_vs_accuracy, plotted
from bench.hashirubench.stats import wilson
from bench.hashirubench.summary import RunStats


def stats(system: str, solved: int, cost: str | None) -> RunStats:
    low, high = wilson(solved, 5)
    return RunStats(
        task="gsm8k",
        system=system,
        model="m",
        seed=0,
        file="f",
        items=5,
        errors=0,
        accuracy=solved / 5,
        ci_low=low,
        ci_high=high,
        mean_cost_usd=None if cost is None else Decimal(cost),
        total_cost_usd=Decimal(0),
        mean_input_tokens=1,
        mean_output_tokens=1,
        mean_seconds=1,
    )


def test_runs_at_0_and_100_percent_are_drawn_and_unknown_costs_left_out(tmp_path: Path) -> None:
    runs = [stats("baseline", 0, "0"), stats("hashiru", 5, "0.02"), stats("hashiru", 2, None)]
    cost_vs_accuracy(runs, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")


def test_local_runs_are_plotted_against_seconds_with_labels_apart() -> None:
    runs = [stats("baseline", 2, "0"), stats("hashiru", 2, "0")]  # one point, $0 each
    figure = plotted(runs)
    axes = figure.axes[0]
    assert axes.get_xlabel().startswith("mean seconds per item")
    left, right = axes.get_xlim()
    assert left == 0 and right >= 1  # around the runs' 1 s, not ±0.04 about zero
    offsets = [label.xyann for label in axes.texts]
    assert len(set(offsets)) == 2  # one label above the other, not printed over it


def test_runs_that_spent_dollars_are_plotted_against_dollars() -> None:
    axes = plotted([stats("baseline", 2, "0.001"), stats("hashiru", 3, "0.004")]).axes[0]
    assert axes.get_xlabel() == "mean cost per item (USD)"
    assert axes.get_xlim()[1] >= 0.004
