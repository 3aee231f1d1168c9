"""`bench run --learn`: the employees' answers, scored against gold, as the scorecard's verdicts.

Why: a user calibrates their company on their own models by running the benchmark once. Every
employee answer of a HASHIRU item was scored against the item's gold (`EmployeeScore`); here
each becomes a verdict with source `bench` on its ask in the workspace's scorecard: good when
solved (score 1), else bad. JEEBench's partial credit (0.25 to 0.75 of a multiple-choice set) is
bad: the verdict says whether the answer can be relied on as given, and a CEO relaying a partly
right set relays a wrong answer; the report's paired comparison counts it unsolved too.

Each ask is rated once: a re-run, or `--learn` on a sample first run without it, rates only
the answers this workspace has not yet rated from the bench. Asks the run filed as failed (an
empty answer) already count as failed and are not rated; answers whose ask is not in this
workspace's scorecard (a sample run with another `--home`) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.hashirubench.records import Record
from hashiru import Outcomes

SOURCE = "bench"


@dataclass
class Learned:
    """What `--learn` did with the answers it saw."""

    rated: int = 0
    before: int = 0  # rated from the bench already (a resumed run)
    failed: int = 0  # filed as failed by the run itself: nothing to rate
    elsewhere: int = 0  # not in this workspace's scorecard

    def add(self, other: Learned) -> None:
        self.rated += other.rated
        self.before += other.before
        self.failed += other.failed
        self.elsewhere += other.elsewhere

    def describe(self) -> str:
        """`learned 12 answers`, and what was passed over, when anything was."""
        passed = {
            "already rated": self.before,
            "failed asks": self.failed,
            "not in this workspace's scorecard": self.elsewhere,
        }
        notes = "; ".join(f"{why}: {n}" for why, n in passed.items() if n)
        return f"learned {self.rated} answers" + (f" ({notes})" if notes else "")


def learn(outcomes: Outcomes, task: str, records: Iterable[Record]) -> Learned:
    """Rate every employee answer in `records` not yet rated from the bench. Blocking: SQLite.

    An OutcomeError from `rate` is not expected here (the ask's state is read first) and is
    raised: it would mean the scorecard changed under the run.
    """
    learned = Learned()
    for record in records:
        if not record.answers or record.run_id is None:
            continue
        asks = {ask.id: ask for ask in outcomes.asks(run_id=record.run_id)}
        for answer in record.answers:
            ask = asks.get(answer.ask_id) if answer.ask_id is not None else None
            if ask is None or ask.agent != answer.agent:
                learned.elsewhere += 1
            elif ask.failed:
                learned.failed += 1
            elif ask.verdict_source == SOURCE:  # the bench outranks every other judge
                learned.before += 1
            else:
                verdict = "good" if answer.right else "bad"
                note = f"{task} {record.id}: gold {record.gold}"
                outcomes.rate(ask.id, verdict, SOURCE, note=note)
                learned.rated += 1
    return learned
