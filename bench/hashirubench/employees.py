"""The report's employee table: each employee model's answers, scored against the gold.

Why apart from the runs: a HASHIRU run's accuracy is its CEO's final reply; this is what the
employees it asked were worth, per model, the same numbers `bench run --learn` files in the
scorecard (right = solved = a good verdict). Per task, since a model's accuracy depends on it;
across the runs of a task, since two CEOs asking one model are two samples of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from bench.hashirubench.records import EmployeeScore, Record
from bench.hashirubench.stats import wilson
from bench.hashirubench.summary import EmployeeStats

MARKDOWN_HEADERS = (
    "task",
    "employee model",
    "answers",
    "right",
    "accuracy",
    "95% CI",
    "mean score",
)
TERMINAL_HEADERS = ("task · employee model", "answers", "right", "accuracy (95% CI)")


def employee_stats(runs: Iterable[tuple[str, Iterable[Record]]]) -> list[EmployeeStats]:
    """Per (task, model), from each run's task and records; sorted by task, then model."""
    scores: dict[tuple[str, str], list[EmployeeScore]] = defaultdict(list)
    for task, records in runs:
        for record in records:
            for answer in record.answers:
                scores[task, answer.model].append(answer)
    stats = []
    for (task, model), answers in sorted(scores.items()):
        right = sum(answer.right for answer in answers)
        low, high = wilson(right, len(answers))
        stats.append(
            EmployeeStats(
                task=task,
                model=model,
                answers=len(answers),
                right=right,
                accuracy=right / len(answers),
                ci_low=low,
                ci_high=high,
                mean_score=sum(answer.score for answer in answers) / len(answers),
            )
        )
    return stats


def markdown_rows(stats: Iterable[EmployeeStats]) -> list[tuple[str, ...]]:
    return [
        (
            s.task,
            s.model,
            str(s.answers),
            str(s.right),
            f"{s.accuracy:.1%}",
            f"{s.ci_low:.1%}-{s.ci_high:.1%}",
            f"{s.mean_score:.3g}",
        )
        for s in stats
    ]


def terminal_rows(stats: Iterable[EmployeeStats]) -> list[tuple[str, ...]]:
    return [
        (
            f"{s.task} · {s.model}",
            str(s.answers),
            str(s.right),
            f"{s.accuracy:.1%} ({s.ci_low:.0%}-{s.ci_high:.0%})",
        )
        for s in stats
    ]
