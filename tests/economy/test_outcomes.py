"""The scorecard's record: asks and verdicts survive restarts and races; bad ones are refused."""

from __future__ import annotations

import multiprocessing
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from hashiru.economy.outcomes import Outcomes, wilson_interval
from hashiru.errors import OutcomeError
from hashiru.messages import Usage


def ask(outcomes: Outcomes, model: str = "p:m", kind: str = "math", **kw) -> int:
    fields = {"run_id": "run", "agent": "a", "usd": Decimal("0.002"), "seconds": 1.0} | kw
    return outcomes.record_ask(
        model=model, kind=kind, usage=Usage(input_tokens=100, output_tokens=40), **fields
    )


def test_a_scorecard_line_adds_up_its_asks_and_verdicts(tmp_path: Path) -> None:
    outcomes = Outcomes(tmp_path / "outcomes.sqlite")
    good = [ask(outcomes, seconds=2.0) for _ in range(3)]
    bad = ask(outcomes, usd=Decimal("0.006"))
    ask(outcomes, failed=True, note="timeout", usd=Decimal(0))
    ask(outcomes)  # never judged: counts toward cost, not success
    ask(outcomes, kind="writing")
    for ask_id in good:
        outcomes.rate(ask_id, "good", "ceo")
    outcomes.rate(bad, "bad", "ceo")
    [math] = outcomes.scorecard("math")
    assert (math.asks, math.good, math.bad, math.failed, math.unjudged) == (6, 3, 1, 1, 1)
    assert math.success_rate == 3 / 5
    assert math.interval == pytest.approx(wilson_interval(3, 5))
    total = 3 * Decimal("0.002") + Decimal("0.006") + Decimal("0.002")
    assert math.mean_usd == (total / 6).quantize(Decimal("1e-9"))  # to the ledger's nano-dollar
    assert math.mean_seconds == round((3 * 2.0 + 3 * 1.0) / 6, 3)
    assert (math.mean_input_tokens, math.mean_output_tokens) == (100, 40)
    assert [line.kind for line in outcomes.scorecard()] == ["math", "writing"]


def test_ground_truth_outranks_the_ceos_verdict(tmp_path: Path) -> None:
    outcomes = Outcomes(tmp_path / "outcomes.sqlite")
    ask_id = ask(outcomes)
    assert outcomes.rate(ask_id, "good", "ceo").verdict == "good"
    judged = outcomes.rate(ask_id, "bad", "bench")
    assert (judged.verdict, judged.verdict_source) == ("bad", "bench")
    [line] = outcomes.scorecard("math")
    assert (line.good, line.bad) == (0, 1), "one ask counts once, at its best judge's verdict"


def test_an_ask_is_rated_once_per_judge_and_bad_verdicts_are_refused(tmp_path: Path) -> None:
    outcomes = Outcomes(tmp_path / "outcomes.sqlite")
    ask_id = ask(outcomes)
    outcomes.rate(ask_id, "good", "ceo")
    with pytest.raises(OutcomeError, match="already rated by ceo"):
        outcomes.rate(ask_id, "bad", "ceo")
    failed = ask(outcomes, failed=True, note="HTTP 500")
    with pytest.raises(OutcomeError, match="already counts as failed"):
        outcomes.rate(failed, "good", "ceo")
    with pytest.raises(OutcomeError, match="No ask 999"):
        outcomes.rate(999, "good", "ceo")
    with pytest.raises(OutcomeError, match="'good' or 'bad'"):
        outcomes.rate(ask_id, "great", "user")
    with pytest.raises(OutcomeError, match="source"):
        outcomes.rate(ask_id, "good", "oracle")
    with pytest.raises(OutcomeError, match=r"Unknown task kind 'poetry'.*math, code"):
        ask(outcomes, kind="poetry")
    with pytest.raises(OutcomeError, match="Unknown task kind"):
        outcomes.scorecard("poetry")
    [line] = outcomes.scorecard("math")
    assert (line.asks, line.good, line.bad, line.failed) == (2, 1, 0, 1), "nothing else recorded"


def test_the_record_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite"
    first = Outcomes(path)
    ask_id = ask(first)
    first.rate(ask_id, "bad", "ceo", note="wrong sum")
    again = Outcomes(path)
    [line] = again.scorecard("math")
    assert (line.asks, line.bad) == (1, 1)
    [kept] = again.asks(run_id="run")
    assert (kept.verdict, kept.verdict_source) == ("bad", "ceo")
    with pytest.raises(OutcomeError, match="already rated"):
        again.rate(ask_id, "good", "ceo")


def test_the_runs_own_bad_answers_are_known_by_kind(tmp_path: Path) -> None:
    outcomes = Outcomes(tmp_path / "outcomes.sqlite")
    outcomes.rate(ask(outcomes, model="p:weak"), "bad", "ceo")
    ask(outcomes, model="p:down", failed=True, note="timeout")
    outcomes.rate(ask(outcomes, model="p:strong"), "good", "ceo")
    outcomes.rate(ask(outcomes, model="p:other-run", run_id="other"), "bad", "ceo")
    outcomes.rate(ask(outcomes, model="p:writer", kind="writing"), "bad", "ceo")
    assert outcomes.judged_bad("run", "math") == {"p:weak", "p:down"}


def _rate_all(path: Path, ask_ids: list[int], source: str, results: list) -> None:
    outcomes = Outcomes(path)
    for ask_id in ask_ids:
        try:
            outcomes.rate(ask_id, "good", source)
            results.append(ask_id)
        except OutcomeError:
            pass


def _file_asks(path: Path, run_id: str, count: int) -> None:
    outcomes = Outcomes(path)
    for _ in range(count):
        outcomes.rate(ask(outcomes, run_id=run_id), "good", "ceo")


def test_threads_racing_to_rate_the_same_asks_rate_each_once(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite"
    outcomes = Outcomes(path)
    ask_ids = [ask(outcomes) for _ in range(50)]
    rated: list[int] = []
    threads = [
        threading.Thread(target=_rate_all, args=(path, ask_ids, "ceo", rated)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(rated) == ask_ids, "each ask rated by exactly one of the racing threads"
    [line] = outcomes.scorecard("math")
    assert (line.asks, line.good) == (50, 50)


def test_two_processes_filing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_file_asks, args=(path, run, 100)) for run in ("p1", "p2")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    outcomes = Outcomes(path)
    [line] = outcomes.scorecard("math")
    assert (line.asks, line.good) == (200, 200)
    assert {len(outcomes.asks(run_id=run)) for run in ("p1", "p2")} == {100}


@pytest.mark.parametrize(
    ("good", "trials", "low", "high"),
    [(0, 1, 0.0, 0.7935), (1, 1, 0.2065, 1.0), (8, 10, 0.4902, 0.9433), (50, 100, 0.4038, 0.5962)],
)
def test_wilson_intervals_match_published_values(
    good: int, trials: int, low: float, high: float
) -> None:
    assert wilson_interval(good, trials) == pytest.approx((low, high), abs=1e-4)
