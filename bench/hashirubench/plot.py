"""The cost-against-accuracy plot: one point per run, with its 95% interval.

Built with matplotlib's object API (no pyplot, no display), so it works headless in CI. When no
run spent a dollar (local models, HASHIRU's home ground), dollars say nothing: the x axis is
then what local work costs, the seconds per item, and a second panel beside it puts accuracy
against the memory the company held for its hired local models (also drawn whenever a run held
any). Labels are stacked apart, so two runs at the same point stay readable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.hashirubench.summary import RunStats

MARKERS = {"hashiru": "o", "baseline": "s"}
LABEL_STEP = 14  # points between the labels of runs drawn at about the same accuracy


@dataclass(frozen=True)
class Axis:
    """What the x axis measures, and each run's value on it (None: not known)."""

    label: str
    value: Callable[[RunStats], float | None]


DOLLARS = Axis("mean cost per item (USD)", lambda r: _float(r.mean_cost_usd))
SECONDS = Axis(
    "mean seconds per item (no run spent a dollar: local work)", lambda r: r.mean_seconds
)
MEMORY = Axis(
    "mean memory held per item (GiB of hired local models)", lambda r: r.mean_resource_gib_used
)


def cost_vs_accuracy(runs: Sequence[RunStats], path: Path) -> None:
    plotted(runs).savefig(path, dpi=120)


def x_axis(runs: Sequence[RunStats]) -> Axis:
    """Dollars, unless every known cost is zero: then seconds."""
    return DOLLARS if any(DOLLARS.value(r) for r in runs) else SECONDS


def x_axes(runs: Sequence[RunStats]) -> list[Axis]:
    """The panels: cost (dollars or seconds), and memory held when the runs are local or any
    run held memory."""
    cost = x_axis(runs)
    held = any(MEMORY.value(r) for r in runs)
    return [cost, MEMORY] if cost is SECONDS or held else [cost]


def plotted(runs: Sequence[RunStats]) -> Figure:
    """The figure: accuracy against each panel's x axis, the panels side by side."""
    panels = x_axes(runs)
    figure = Figure(figsize=(6.5 * len(panels), 5.5), layout="constrained")
    tasks = sorted({run.task for run in runs})
    colours = {task: f"C{n}" for n, task in enumerate(tasks)}
    subplots = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for axes, axis in zip(subplots, panels, strict=True):
        _draw(axes, runs, axis, colours)
    subplots[0].set_ylabel("accuracy (%), 95% Wilson interval")
    figure.suptitle("HASHIRUBench: cost against accuracy (circles: HASHIRU, squares: baseline)")
    return figure


def _draw(axes: Axes, runs: Sequence[RunStats], axis: Axis, colours: dict[str, str]) -> None:
    """One panel; runs without a value on its x axis are left out. Its x axis runs from 0 (one
    value: a range around it, not matplotlib's ±0.04 about zero)."""
    points = [(run, axis.value(run)) for run in runs]
    points = [(run, x) for run, x in points if x is not None]
    xs = [x for _, x in points]
    span = (max(xs) - min(xs)) if xs else 0
    right = max(xs, default=0) * (2 if span == 0 else 1.15) or 1
    placed: list[float] = []  # the accuracies of the runs labelled so far
    for run, x in points:
        y = run.accuracy * 100
        error = [[y - run.ci_low * 100], [run.ci_high * 100 - y]]
        marker = MARKERS.get(run.system, "^")
        bars = axes.errorbar(x, y, yerr=error, fmt=marker, color=colours[run.task], capsize=3)
        for artist in bars.get_children():  # a run at 0 is drawn whole, over the axis
            artist.set_clip_on(False)
        # runs at about this accuracy: their labels, a fifth of the panel wide, could meet
        near = sum(abs(y - other) <= 8 for other in placed)
        _label(axes, run, x, y, near, on_left=x > right * 0.6)
        placed.append(y)
    axes.set_xlim(0, right)
    axes.set_xlabel(axis.label)
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)


def _label(axes: Axes, run: RunStats, x: float, y: float, near: int, on_left: bool) -> None:
    """A run's label beside its point, inside the panel: on the left of a point in its right
    part, below a point in its upper half, and stacked further away when runs before it sit
    close by."""
    up = y < 50
    offset = 4 + LABEL_STEP * 2 * near
    axes.annotate(
        f"{run.task} {run.system}\n{run.model}",
        (x, y),
        fontsize=7,
        textcoords="offset points",
        xytext=(-6 if on_left else 6, offset if up else -offset),
        horizontalalignment="right" if on_left else "left",
        verticalalignment="bottom" if up else "top",
    )


def _float(value: object) -> float | None:
    return None if value is None else float(value)
