"""The cost-against-accuracy plot: one point per run, with its 95% interval.

Built with matplotlib's object API (no pyplot, no display), so it works headless in CI. When no
run spent a dollar (local models, HASHIRU's home ground), dollars say nothing: the x axis is
then what local work costs, the seconds per item. Labels are stacked apart, so two runs at the
same point stay readable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from bench.hashirubench.summary import RunStats

MARKERS = {"hashiru": "o", "baseline": "s"}
LABEL_STEP = 14  # points between the labels of runs drawn near one another


@dataclass(frozen=True)
class Axis:
    """What the x axis measures, and each run's value on it (None: not known)."""

    label: str
    value: Callable[[RunStats], float | None]


DOLLARS = Axis("mean cost per item (USD)", lambda r: _float(r.mean_cost_usd))
SECONDS = Axis(
    "mean seconds per item (no run spent a dollar: local work)", lambda r: r.mean_seconds
)


def cost_vs_accuracy(runs: Sequence[RunStats], path: Path) -> None:
    plotted(runs).savefig(path, dpi=120)


def x_axis(runs: Sequence[RunStats]) -> Axis:
    """Dollars, unless every known cost is zero: then seconds."""
    return DOLLARS if any(DOLLARS.value(r) for r in runs) else SECONDS


def plotted(runs: Sequence[RunStats]) -> Figure:
    """The figure: accuracy against the x axis; runs without a value on it are left out."""
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    axis = x_axis(runs)
    tasks = sorted({run.task for run in runs})
    colours = {task: f"C{n}" for n, task in enumerate(tasks)}
    points = [(run, axis.value(run)) for run in runs]
    points = [(run, x) for run, x in points if x is not None]
    xs = [x for _, x in points]
    span = (max(xs) - min(xs)) if xs else 0
    placed: list[tuple[float, float]] = []
    for run, x in points:
        y = run.accuracy * 100
        error = [[y - run.ci_low * 100], [run.ci_high * 100 - y]]
        axes.errorbar(
            x, y, yerr=error, fmt=MARKERS.get(run.system, "^"), color=colours[run.task], capsize=3
        )
        near = sum(abs(x - px) <= span * 0.08 + 1e-12 and abs(y - py) <= 8 for px, py in placed)
        axes.annotate(
            f"{run.task} {run.system}\n{run.model}",
            (x, y),
            fontsize=7,
            textcoords="offset points",
            xytext=(6, 4 - LABEL_STEP * 2 * near),
        )
        placed.append((x, y))
    if xs and span == 0:  # one value: a range around it, not matplotlib's ±0.04 about zero
        axes.set_xlim(0, max(xs) * 2 or 1)
    else:
        axes.set_xlim(left=0)
    axes.set_xlabel(axis.label)
    axes.set_ylabel("accuracy (%), 95% Wilson interval")
    axes.set_ylim(0, 100)
    axes.set_title("HASHIRUBench: cost against accuracy (circles: HASHIRU, squares: baseline)")
    axes.grid(alpha=0.3)
    return figure


def _float(value: object) -> float | None:
    return None if value is None else float(value)
