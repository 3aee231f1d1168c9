"""Whole `bench run` and `bench report` commands on scripted models with known accuracy."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.bench.conftest import Bench
from tests.bench.quiz import ITEMS, Quizzer

EXPECTED = {  # task: (baseline accuracy, HASHIRU accuracy, wins, losses, McNemar p)
    # baseline right on 0 2 4 6 8, HASHIRU on 1 2 4 5 7 8: wins 1 5 7, losses 0 6
    "gsm8k": (0.5, 0.6, 3, 2, 1.0),
    "svamp": (0.5, 0.6, 3, 2, 1.0),
    # baseline: 1 + 0 + 1 + 0.5 + 0.25 + 0 + 1 + 0 + 1 + 0; solves 0 2 6 8: wins 1 4 5 7,
    # losses 0 6, p = 2 * (1 + 6 + 15) / 2**6
    "jeebench": (0.475, 0.6, 4, 2, 0.6875),
}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_both_arms_score_exactly_what_the_script_implies(task: str, bench: Bench) -> None:
    quiz = Quizzer(task)
    limit = ("--limit", str(ITEMS))
    assert bench.run(task, "baseline", "scripted:solo", *limit, providers=[quiz.provider()]) == 0
    hashiru = bench.run(
        task, "hashiru", "scripted:ceo", *limit, "--concurrency", "3", providers=[quiz.provider()]
    )
    assert hashiru == 0
    assert bench.report() == 0

    summary = bench.summary()
    runs = {run["system"]: run for run in summary["runs"]}
    baseline_accuracy, hashiru_accuracy, wins, losses, p = EXPECTED[task]
    assert runs["baseline"]["accuracy"] == pytest.approx(baseline_accuracy)
    assert runs["hashiru"]["accuracy"] == pytest.approx(hashiru_accuracy)
    assert [(run["items"], run["errors"]) for run in runs.values()] == [(ITEMS, 0)] * 2
    # alone: one call; HASHIRU: three CEO steps and one employee answer; 100 in, 10 out each
    alone, team = runs["baseline"], runs["hashiru"]
    assert (alone["mean_input_tokens"], alone["mean_output_tokens"]) == (100, 10)
    assert (team["mean_input_tokens"], team["mean_output_tokens"]) == (400, 40)
    assert [Decimal(run["total_cost_usd"]) for run in runs.values()] == [0, 0]  # local models
    [pair] = summary["comparisons"]
    assert (pair["items"], pair["wins"], pair["losses"]) == (ITEMS, wins, losses)
    assert pair["mcnemar_p"] == pytest.approx(p)
    assert quiz.calls == {"solo": ITEMS, "ceo": 3 * ITEMS, "solver": ITEMS}

    markdown = (bench.out / "summary.md").read_text()
    assert f"| {task} | baseline | scripted:solo | {ITEMS} | {baseline_accuracy:.1%} |" in markdown
    assert f"| {task} | hashiru | scripted:ceo | {ITEMS} | {hashiru_accuracy:.1%} |" in markdown
    assert (bench.out / "cost_vs_accuracy.png").read_bytes().startswith(b"\x89PNG")


def test_records_carry_the_fields_and_both_arms_get_the_same_items(bench: Bench) -> None:
    quiz = Quizzer("gsm8k")
    bench.run("gsm8k", "baseline", "scripted:solo", providers=[quiz.provider()])
    bench.run("gsm8k", "hashiru", "scripted:ceo", providers=[quiz.provider()])

    alone = bench.records("gsm8k", "baseline", "scripted:solo")
    team = bench.records("gsm8k", "hashiru", "scripted:ceo")
    assert [r["id"] for r in alone] == [r["id"] for r in team]  # one seeded order
    assert [r["prompt"] for r in alone] == [r["prompt"] for r in team]
    item = next(r for r in team if r["id"] == "test-1")
    assert item["prompt"].endswith(
        "FINAL ANSWER: <answer>\nwhere <answer> is the number only, without units."
    )
    assert (item["prediction"], item["gold"], item["score"]) == ("1,007", "1,007", 1.0)
    assert item["employees"] == [{"name": "solver1", "model": "scripted:solver"}]
    assert (item["tool_calls"], item["steps"]) == (["hire_agent", "ask_agent"], 3)
    assert (item["input_tokens"], item["output_tokens"], item["error"]) == (400, 40, None)
    assert Decimal(item["expense_usd"]) == 0 and item["seconds"] >= 0
    assert Decimal(item["resource_gib_used"]) == 0
    meta = json.loads((bench.out / "gsm8k-hashiru-scripted_ceo.meta.json").read_text())
    assert (meta["task"], meta["system"], meta["model"], meta["seed"]) == (
        "gsm8k",
        "hashiru",
        "scripted:ceo",
        0,
    )
    assert meta["invocations"][0]["hashiru_version"]
    roster = Hashiru.from_settings(Settings.load()).company.roster
    assert len(roster) == 0, "each item's employees are fired when it ends"


def test_a_larger_limit_runs_only_the_new_items(bench: Bench) -> None:
    quiz = Quizzer("svamp")
    arm = ("svamp", "baseline", "scripted:solo")

    bench.run(*arm, "--limit", "5", providers=[quiz.provider()])
    first = [r["id"] for r in bench.records(*arm)]
    bench.run(*arm, "--limit", "10", providers=[quiz.provider()])
    assert quiz.calls["solo"] == 10, "five items, then five more"
    bench.run(*arm, "--limit", "10", providers=[quiz.provider()])
    assert quiz.calls["solo"] == 10, "nothing left to run"

    ids = [r["id"] for r in bench.records(*arm)]
    assert len(ids) == len(set(ids)) == 10
    assert ids[:5] == first, "a larger limit extends the smaller sample"
    meta = json.loads((bench.out / "svamp-baseline-scripted_solo.meta.json").read_text())
    assert [i["limit"] for i in meta["invocations"]] == [5, 10, 10]


def test_a_failed_item_scores_zero_and_is_retried_on_the_next_run(bench: Bench) -> None:
    quiz = Quizzer("gsm8k")
    quiz.fail_once = {4}
    arm = ("gsm8k", "baseline", "scripted:solo")

    assert bench.run(*arm, providers=[quiz.provider()]) == 0
    [failed] = [r for r in bench.records(*arm) if r["error"]]
    # a failed call is not charged: the item spent $0, and says so (it was null before issue 11)
    assert (failed["id"], failed["score"], Decimal(failed["expense_usd"])) == ("test-4", 0, 0)
    assert "ProviderError" in failed["error"] and failed["run_id"]

    bench.run(*arm, providers=[quiz.provider()])
    assert quiz.calls["solo"] == ITEMS + 1, "only the failed item runs again"
    bench.report()
    [stats] = bench.summary()["runs"]
    assert (stats["items"], stats["errors"], stats["accuracy"]) == (ITEMS, 0, 0.5)


def test_a_different_seed_is_not_mixed_into_a_sample(bench: Bench, capsys) -> None:
    quiz = Quizzer("gsm8k")
    arm = ("gsm8k", "baseline", "scripted:solo", "--limit", "2")
    bench.run(*arm, providers=[quiz.provider()])

    assert bench.run(*arm, "--seed", "1", providers=[quiz.provider()]) == 2
    assert "--seed 0" in capsys.readouterr().err


def test_missing_data_says_where_to_put_it(bench: Bench, data_dir: Path, capsys) -> None:
    (data_dir / "svamp" / "SVAMP.json").unlink()

    assert bench.run("svamp", "baseline", "scripted:solo") == 2
    err = "".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert str(data_dir / "svamp" / "SVAMP.json") in err
    assert "https://raw.githubusercontent.com/arkilpatel/SVAMP/main/SVAMP.json" in err
    assert "--download" in err


def test_an_unknown_model_fails_before_the_first_item(bench: Bench, capsys) -> None:
    assert bench.run("gsm8k", "baseline", "nope:x") == 2
    assert "nope:x" in capsys.readouterr().err
    assert not bench.out.exists()


def test_report_without_results_explains(tmp_path: Path, bench: Bench, capsys) -> None:
    assert bench.report(str(tmp_path)) == 2
    assert "bench run" in capsys.readouterr().err
