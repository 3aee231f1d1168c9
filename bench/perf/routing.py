"""Does `auto:<kind>` learn which employee is worth hiring? A routing simulation on known odds.

    python -m bench.perf.routing [--tasks 1000] [--seed 0] [--value 0.05]
                                 [--check-accuracy 0.9] [--plot routing_regret.png] [--json]

Why a simulation: whether the scorecard pays off depends on odds nobody knows for real models.
Here the odds are set (the WORLD table below): three scripted models with a known chance of a
right answer per kind of task and a known price per ask. A scripted CEO hires with
`auto:<kind>` exactly as `hire_agent` does, through the real pieces of the public API: each ask
is filed in a real `Outcomes` store, each choice is `choose_model` on that store's scorecard,
and the CEO's verdict on each answer (its own check, right `--check-accuracy` of the time) is
filed with `rate`. When it judges an answer bad it asks again, and the next choice passes over
the model judged bad in this task, so it escalates; the task's answer is the last one asked.

The same tasks, and the same luck, face every arm: whether each model answers each task right
and whether the CEO's check of each model's answer agrees with the truth are drawn once, up
front. The learned choice is compared with always asking the top model, always asking the
cheapest, and the oracle (the cheapest model that answers right; it bounds every arm). Accuracy
is measured against the truth; dollars are what the asks cost.

The goal (issue 14): within 2 accuracy points of always-top at no more than half its cost.
`--plot PATH` draws the regret curve: cumulative right answers lost to the oracle, and
cumulative dollars, task by task (only when asked: like the other perf benchmarks, a run
writes no files by itself). A sensitivity table shows how the value of a right answer
(`answer_value_usd`, the rate the choice trades accuracy against dollars at) moves the result.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table

from hashiru import Offer, Outcomes, Settings, Usage, choose_model


@dataclass(frozen=True)
class Employee:
    """A scripted model: its chance of a right answer on each kind of task, and its price."""

    ref: str
    local: bool
    usd_per_ask: Decimal
    accuracy: dict[str, float]


WORLD: tuple[Employee, ...] = (  # cheapest first
    Employee("sim:local", True, Decimal("0"), {"math": 0.55, "writing": 0.70}),
    Employee("sim:mid", False, Decimal("0.001"), {"math": 0.85, "writing": 0.85}),
    Employee("sim:top", False, Decimal("0.01"), {"math": 0.97, "writing": 0.92}),
)
KINDS = ("math", "writing")
BY_REF = {employee.ref: employee for employee in WORLD}
CHEAPEST, TOP = WORLD[0], WORLD[-1]
DEFAULT_VALUE: Decimal = Settings.model_fields["answer_value_usd"].default  # as a workspace
SENSITIVITY = tuple(Decimal(v) for v in ("0.01", "0.02", "0.05", "0.2", "1.0"))
GOAL_POINTS, GOAL_COST_SHARE = 0.02, Decimal("0.5")
COLOURS = {"learned": "C0", "always_top": "C1", "always_cheapest": "C2", "oracle": "C3"}


@dataclass(frozen=True)
class Task:
    """One task and its luck: whether each model answers it right, and whether the CEO's check
    of each model's answer agrees with the truth."""

    number: int
    kind: str
    right: dict[str, bool]
    check_agrees: dict[str, bool]


@dataclass(frozen=True)
class Result:
    """How an arm did on one task: whether its final answer is right, and the models it asked."""

    right: bool
    asked: tuple[str, ...]

    @property
    def usd(self) -> Decimal:
        return sum((BY_REF[ref].usd_per_ask for ref in self.asked), Decimal(0))


@dataclass(frozen=True)
class Arm:
    """One way of choosing, over all the tasks."""

    results: tuple[Result, ...]

    @property
    def accuracy(self) -> float:
        return sum(r.right for r in self.results) / len(self.results)

    @property
    def usd(self) -> Decimal:
        return sum((r.usd for r in self.results), Decimal(0))

    def summary(self) -> dict[str, object]:
        asks = Counter(ref for r in self.results for ref in r.asked)
        return {
            "accuracy": round(self.accuracy, 4),
            "usd": float(self.usd),
            "usd_per_task": float(self.usd / len(self.results)),
            "asks": {e.ref: asks[e.ref] for e in WORLD},
        }


@dataclass(frozen=True)
class Simulation:
    """Every arm on the same tasks; `learned` at each value of a right answer tried."""

    tasks: tuple[Task, ...]
    value: Decimal
    check_accuracy: float
    learned_at: dict[Decimal, Arm]
    always_top: Arm
    always_cheapest: Arm
    oracle: Arm

    @property
    def learned(self) -> Arm:
        return self.learned_at[self.value]

    def arms(self) -> dict[str, Arm]:
        return {
            "learned": self.learned,
            "always_top": self.always_top,
            "always_cheapest": self.always_cheapest,
            "oracle": self.oracle,
        }

    def goal_met(self, arm: Arm | None = None) -> bool:
        """Within GOAL_POINTS of always-top's accuracy at no more than half its dollars."""
        arm = arm or self.learned
        close = arm.accuracy >= self.always_top.accuracy - GOAL_POINTS - 1e-9
        return close and arm.usd <= self.always_top.usd * GOAL_COST_SHARE

    def summary(self) -> dict[str, object]:
        return {
            **{name: arm.summary() for name, arm in self.arms().items()},
            "goal_met": self.goal_met(),
            "answer_value_usd": str(self.value),
            "sensitivity": [
                {"answer_value_usd": str(value), **arm.summary(), "goal_met": self.goal_met(arm)}
                for value, arm in sorted(self.learned_at.items())
            ],
        }


def draw_tasks(count: int, seed: int, check_accuracy: float) -> tuple[Task, ...]:
    """The world's luck, drawn once so every arm faces the same."""
    rng = random.Random(seed)
    tasks = []
    for number in range(count):
        kind = rng.choice(KINDS)
        right = {e.ref: rng.random() < e.accuracy[kind] for e in WORLD}
        agrees = {e.ref: rng.random() < check_accuracy for e in WORLD}
        tasks.append(Task(number, kind, right, agrees))
    return tuple(tasks)


def learned(tasks: Sequence[Task], value: Decimal, seed: int, store: Path) -> Arm:
    """The scripted CEO hiring with `auto:<kind>`, as `hire_agent` does, learning in the
    scorecard at `store` (a new file: the company starts with no record)."""
    rng = random.Random(f"choose-{seed}")
    offers = [Offer(ref=e.ref, local=e.local, usd_per_ask=e.usd_per_ask) for e in WORLD]
    outcomes = Outcomes(store)
    results = []
    for task in tasks:
        run_id = f"task-{task.number}"
        asked: list[str] = []
        for attempt in range(1, len(WORLD) + 1):  # each model once at most
            record = {line.model: line for line in outcomes.scorecard(task.kind)}
            bad = outcomes.judged_bad(run_id, task.kind)
            ref = choose_model(task.kind, offers, record, value, rng, judged_bad=bad).ref
            if ref is None:
                break
            ask = outcomes.record_ask(
                run_id=run_id,
                agent=f"{task.kind}-{attempt}",
                model=ref,
                kind=task.kind,
                usage=Usage(),
                usd=BY_REF[ref].usd_per_ask,
                seconds=0.0,  # time is not what this simulation measures
            )
            asked.append(ref)
            judged_good = task.right[ref] == task.check_agrees[ref]
            outcomes.rate(ask, "good" if judged_good else "bad", "ceo")
            if judged_good:
                break
        results.append(Result(task.right[asked[-1]], tuple(asked)))
    return Arm(tuple(results))


def always(tasks: Sequence[Task], employee: Employee) -> Arm:
    return Arm(tuple(Result(t.right[employee.ref], (employee.ref,)) for t in tasks))


def oracle(tasks: Sequence[Task]) -> Arm:
    """The cheapest model that answers right; when none does, the cheapest, wrong."""
    results = []
    for task in tasks:
        ref = next((e.ref for e in WORLD if task.right[e.ref]), CHEAPEST.ref)
        results.append(Result(task.right[ref], (ref,)))
    return Arm(tuple(results))


def simulate(
    tasks: int = 1000,
    seed: int = 0,
    value: Decimal = DEFAULT_VALUE,
    check_accuracy: float = 0.9,
    values: Sequence[Decimal] = SENSITIVITY,
) -> Simulation:
    """Every arm on `tasks` seeded tasks; the learned one at `value` and at each of `values`,
    in parallel processes (each learns on its own scorecard)."""
    drawn = draw_tasks(tasks, seed, check_accuracy)
    rates = sorted({value, *values})
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(len(rates)) as pool:
        stores = [Path(tmp) / f"outcomes-{rate}.sqlite" for rate in rates]
        arms = pool.map(learned, [drawn] * len(rates), rates, [seed] * len(rates), stores)
        learned_at = dict(zip(rates, arms, strict=True))
    return Simulation(
        tasks=drawn,
        value=value,
        check_accuracy=check_accuracy,
        learned_at=learned_at,
        always_top=always(drawn, TOP),
        always_cheapest=always(drawn, CHEAPEST),
        oracle=oracle(drawn),
    )


def arms_table(sim: Simulation) -> Table:
    count = len(sim.tasks)
    table = Table(
        "arm",
        "accuracy",
        "dollars",
        "$ per task",
        "asks per task",
        title=f"Routing on {count:,} tasks (answer worth ${sim.value})",
    )
    for name, arm in sim.arms().items():
        asks = sum(len(r.asked) for r in arm.results)
        table.add_row(
            _label(name),
            f"{arm.accuracy:.1%}",
            f"${arm.usd:,.2f}",
            f"${arm.usd / count:.4f}",
            f"{asks / count:.2f}",
        )
    top = sim.always_top
    points = (sim.learned.accuracy - top.accuracy) * 100
    share = sim.learned.usd / top.usd if top.usd else Decimal(0)
    verdict = "MET" if sim.goal_met() else "MISSED"
    table.caption = (
        f"goal {verdict}: learned is {points:+.1f} points from always-top at {share:.0%} of "
        f"its cost (goal: within {GOAL_POINTS * 100:.0f} points at no more than "
        f"{GOAL_COST_SHARE:.0%})"
    )
    return table


def sensitivity_table(sim: Simulation) -> Table:
    top = sim.always_top
    table = Table(
        "answer worth",
        "accuracy",
        "vs top",
        "dollars",
        "of top's cost",
        "goal",
        title="The learned choice at other values of a right answer",
    )
    for value, arm in sorted(sim.learned_at.items()):
        table.add_row(
            f"${value}",
            f"{arm.accuracy:.1%}",
            f"{(arm.accuracy - top.accuracy) * 100:+.1f} pts",
            f"${arm.usd:,.2f}",
            f"{arm.usd / top.usd:.0%}" if top.usd else "-",
            "met" if sim.goal_met(arm) else "missed",
        )
    return table


def plot(sim: Simulation, path: Path) -> None:
    """The regret curve: right answers lost to the oracle, and dollars, summed task by task."""
    from matplotlib.figure import Figure  # only for --plot: matplotlib is the bench extra

    figure = Figure(figsize=(8, 7), layout="constrained")
    lost, spent = figure.subplots(2, 1, sharex=True)
    numbers = [t.number + 1 for t in sim.tasks]
    best = sim.oracle.results
    for name, arm in (("learned", sim.learned), ("always_top", sim.always_top)):
        regret = _running([o.right - r.right for o, r in zip(best, arm.results, strict=True)])
        lost.plot(numbers, regret, label=_label(name), color=COLOURS[name])
    lost.set_ylabel("right answers lost to the oracle")
    lost.set_title(
        f"Regret of the learned choice (answer worth ${sim.value}; the CEO's check is right "
        f"{sim.check_accuracy:.0%} of the time)",
        fontsize=10,
    )
    for name, arm in sim.arms().items():
        if arm.usd:
            dollars = _running([float(r.usd) for r in arm.results])
            spent.plot(numbers, dollars, label=_label(name), color=COLOURS[name])
    spent.set_ylabel("dollars spent")
    spent.set_xlabel("task")
    spent.set_title("Cumulative dollars (always-cheapest spends $0)", fontsize=10)
    for axes in (lost, spent):
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left")
        axes.set_xlim(1, len(numbers))
        axes.set_ylim(bottom=0)
    figure.savefig(path, dpi=120)


def _running(values: Sequence[float]) -> list[float]:
    total, sums = 0.0, []
    for value in values:
        total += value
        sums.append(total)
    return sums


def _label(arm: str) -> str:
    return arm.replace("_", "-")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--value", type=Decimal, default=DEFAULT_VALUE,
                        help="answer_value_usd: what a right answer is worth")  # fmt: skip
    parser.add_argument("--check-accuracy", type=float, default=0.9,
                        help="how often the CEO's verdict agrees with the truth")  # fmt: skip
    parser.add_argument("--plot", type=Path, help="write the regret curve to this PNG")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    sim = simulate(args.tasks, args.seed, args.value, args.check_accuracy)
    if args.plot:
        plot(sim, args.plot)
    if args.json:
        print(json.dumps(sim.summary()))
        return
    hint = f"regret curve: {args.plot}" if args.plot else "regret curve: add --plot PATH.png"
    Console().print(Group(arms_table(sim), sensitivity_table(sim), hint))


if __name__ == "__main__":
    main()
