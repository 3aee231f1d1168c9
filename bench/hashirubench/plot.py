"""The cost-against-accuracy plot: one point per run, with its 95% interval.

Built with matplotlib's object API (no pyplot, no display), so it works headless in CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.hashirubench.summary import RunStats

MARKERS = {"hashiru": "o", "baseline": "s"}


def cost_vs_accuracy(runs: Sequence[RunStats], path: Path) -> None:
    """Mean USD per item against accuracy; runs without a known cost are left out."""
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    tasks = sorted({run.task for run in runs})
    colours = {task: f"C{n}" for n, task in enumerate(tasks)}
    for run in runs:
        if run.mean_cost_usd is None:
            continue
        x, y = float(run.mean_cost_usd), run.accuracy * 100
        error = [[y - run.ci_low * 100], [run.ci_high * 100 - y]]
        axes.errorbar(
            x, y, yerr=error, fmt=MARKERS.get(run.system, "^"), color=colours[run.task], capsize=3
        )
        axes.annotate(
            f"{run.task} {run.system}\n{run.model}",
            (x, y),
            fontsize=7,
            textcoords="offset points",
            xytext=(6, 4),
        )
    axes.set_xlabel("mean cost per item (USD)")
    axes.set_ylabel("accuracy (%), 95% Wilson interval")
    axes.set_ylim(0, 100)
    axes.set_title("HASHIRUBench: cost against accuracy (circles: HASHIRU, squares: baseline)")
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=120)
