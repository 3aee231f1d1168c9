"""The cost-against-accuracy plot, at the edges of its range too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bench.hashirubench.plot import MEMORY, cost_vs_accuracy, plotted
from bench.hashirubench.stats import wilson
from bench.hashirubench.summary import RunStats


def stats(system: str, solved: int, cost: str | None, gib: float | None = 0) -> RunStats:
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
        mean_resource_gib_used=gib,
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


def test_local_runs_get_a_panel_of_the_memory_held_beside_the_seconds(tmp_path: Path) -> None:
    runs = [stats("baseline", 2, "0", gib=0), stats("hashiru", 4, "0", gib=2.5)]
    figure = plotted(runs)
    seconds, memory = figure.axes
    assert seconds.get_xlabel().startswith("mean seconds per item")
    assert memory.get_xlabel() == MEMORY.label
    assert memory.get_shared_y_axes().joined(seconds, memory)  # one accuracy scale
    drawn = sorted(bar.lines[0].get_xydata()[0].tolist() for bar in memory.containers)
    assert drawn == [[0.0, 40.0], [2.5, 80.0]]
    assert [text.get_text() for text in memory.texts] == ["gsm8k baseline\nm", "gsm8k hashiru\nm"]
    assert memory.get_xlim()[0] == 0
    cost_vs_accuracy(runs, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")


def test_memory_has_a_panel_with_dollars_only_when_a_run_held_some() -> None:
    cloud = [stats("baseline", 2, "0.001"), stats("hashiru", 3, "0.004", gib=None)]
    assert len(plotted(cloud).axes) == 1
    mixed = [stats("baseline", 2, "0.001"), stats("hashiru", 3, "0.004", gib=1.0)]
    assert [axes.get_xlabel() for axes in plotted(mixed).axes] == [
        "mean cost per item (USD)",
        MEMORY.label,
    ]


def test_labels_stay_inside_their_panel_and_apart() -> None:
    """At 0 % and 0 GiB, at 100 % and the rightmost point, two runs at one point, two at one
    accuracy far apart (the embedded model's first report): no label leaves its panel (over the
    axis's numbers, or into the next panel) or covers another."""
    runs = [stats("baseline", 0, "0", gib=0), stats("hashiru", 0, "0", gib=0)]
    runs += [stats("baseline", 5, "0", gib=3).model_copy(update={"mean_seconds": 9})]
    embedded = [stats("hashiru", 0, "0").model_copy(update={"mean_seconds": 17})]
    embedded += [stats("baseline", 0, "0").model_copy(update={"mean_seconds": 33.4})]
    for figure in (plotted(runs), plotted(embedded)):
        figure.draw_without_rendering()
        for axes in figure.axes:
            frame = axes.get_window_extent()
            boxes = [text.get_window_extent() for text in axes.texts]
            for box, text in zip(boxes, axes.texts, strict=True):
                assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()
                assert frame.y0 <= box.y0 and box.y1 <= frame.y1, text.get_text()
            for n, box in enumerate(boxes):
                assert not any(box.overlaps(other) for other in boxes[n + 1 :])
