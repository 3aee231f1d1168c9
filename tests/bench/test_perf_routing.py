"""The routing simulation: its arms are measured on the same luck, the learned one learns in a
real scorecard, and with the defaults it reaches issue 14's goal."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from bench.perf.routing import (
    DEFAULT_VALUE,
    WORLD,
    arms_table,
    draw_tasks,
    learned,
    main,
    sensitivity_table,
    simulate,
)
from hashiru import Outcomes

ARMS = ("learned", "always_top", "always_cheapest", "oracle")


def test_json_has_the_four_arms_and_the_oracle_bounds_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--tasks", "200", "--seed", "3", "--json"])
    figures = json.loads(capsys.readouterr().out)
    for arm in ARMS:
        assert 0 <= figures[arm]["accuracy"] <= 1
        assert figures[arm]["usd"] >= 0
    for arm in ARMS:
        assert figures["oracle"]["accuracy"] >= figures[arm]["accuracy"]
    for arm in ("learned", "always_top"):  # cheapest right model: never dearer than one that is
        assert figures["oracle"]["usd"] <= figures[arm]["usd"]
    assert figures["always_top"]["usd"] == pytest.approx(200 * 0.01)
    assert figures["always_cheapest"]["usd"] == 0
    assert figures["always_cheapest"]["accuracy"] < figures["learned"]["accuracy"]


def test_the_learned_choice_files_its_asks_and_verdicts_and_escalates(tmp_path: Path) -> None:
    tasks = draw_tasks(300, seed=1, check_accuracy=0.9)
    store = tmp_path / "outcomes.sqlite"
    arm = learned(tasks, DEFAULT_VALUE, seed=1, store=store)
    outcomes = Outcomes(store)
    asks = outcomes.asks()
    assert len(asks) == sum(len(r.asked) for r in arm.results)
    for kind in ("math", "writing"):
        assert {line.model for line in outcomes.scorecard(kind)} == {e.ref for e in WORLD}
    by_task = defaultdict(list)
    for ask in asks:
        assert ask.verdict in ("good", "bad") and ask.verdict_source == "ceo"
        by_task[ask.run_id].append(ask)
    assert len(by_task) == len(tasks)
    for task, result in zip(tasks, arm.results, strict=True):
        chain = by_task[f"task-{task.number}"]
        models = [ask.model for ask in chain]
        assert models == list(result.asked)
        assert len(set(models)) == len(models), "a model judged bad was asked again"
        assert all(ask.verdict == "bad" for ask in chain[:-1])
        assert chain[-1].verdict == "good" or len(chain) == len(WORLD)
        assert result.right == task.right[models[-1]]
    assert any(len(r.asked) > 1 for r in arm.results)


def test_a_dearer_right_answer_buys_more_of_the_top_model() -> None:
    sim = simulate(tasks=300, seed=2, values=(Decimal("0.01"), Decimal("1.0")))
    cheap, dear = sim.learned_at[Decimal("0.01")], sim.learned_at[Decimal("1.0")]
    assert dear.usd > 2 * cheap.usd
    assert dear.summary()["asks"]["sim:top"] > cheap.summary()["asks"]["sim:top"]


def test_the_tables_are_whole_at_80_columns() -> None:
    sim = simulate(tasks=100, seed=0, values=(Decimal("0.01"),))
    console = Console(width=80, record=True)
    console.print(arms_table(sim), sensitivity_table(sim))
    text = console.export_text()
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    for name in ("learned", "always-top", "always-cheapest", "oracle", "$0.01", "$0.05"):
        assert name in text
    assert "goal MET" in text or "goal MISSED" in text


def test_the_regret_curve_is_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "regret.png"
    main(["--tasks", "100", "--plot", str(path)])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    assert str(path) in capsys.readouterr().out.replace("\n", "")


@pytest.mark.slow
def test_with_the_defaults_the_learned_choice_reaches_the_goal() -> None:
    sim = simulate(values=())
    assert len(sim.tasks) == 1000
    assert sim.goal_met()
    assert sim.learned.accuracy >= sim.always_top.accuracy - 0.02
    assert sim.learned.usd <= sim.always_top.usd / 2
