"""`bench report`: accuracy with its interval, cost, tokens and time per run, and the paired
comparison of HASHIRU against the single model on the items both answered.

Accuracy is the mean score over every recorded item (a failed item scores 0); cost, tokens and
time are means over the items that got an answer, and the total cost adds what the failed
items spent before they failed.
Pairs compare items solved (score 1): JEEBench's partial credit counts as not solved there.
The employees' answers of HASHIRU runs are reported per model too (employees.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bench.hashirubench import employees
from bench.hashirubench.data import BenchError
from bench.hashirubench.plot import cost_vs_accuracy
from bench.hashirubench.records import Record, Results
from bench.hashirubench.stats import mcnemar_exact, wilson
from bench.hashirubench.summary import Comparison, RunStats, Summary


class _Run(BaseModel):
    stats: RunStats
    records: dict[str, Record]


def report(
    dirs: Sequence[Path],
    markdown: Path,
    plot: Path,
    json_path: Path,
    console: Console | None = None,
) -> Summary:
    """Summarise every run in `dirs`: print tables, write markdown, a plot and JSON."""
    runs = [_load(results) for results in _results_in(dirs)]
    summary = Summary(
        runs=[run.stats for run in runs],
        comparisons=_compare(runs),
        employees=employees.employee_stats((run.stats.task, run.records.values()) for run in runs),
    )
    cost_vs_accuracy(summary.runs, plot)
    _print(summary, console or Console())
    markdown.write_text(to_markdown(summary, plot.name), "utf-8")
    json_path.write_text(summary.model_dump_json(indent=2) + "\n", "utf-8")
    return summary


def _results_in(dirs: Sequence[Path]) -> list[Results]:
    found = [Results.from_meta(meta) for d in dirs for meta in sorted(d.glob("*.meta.json"))]
    if not found:
        raise BenchError(f"No bench results in {', '.join(map(str, dirs))}: run `bench run` first.")
    return found


def _load(results: Results) -> _Run:
    meta = results.meta()
    records = results.records()
    answered = _answered(list(records.values()))
    score = sum(r.score for r in records.values())
    low, high = wilson(score, len(records))
    stats = RunStats(
        task=meta.task,
        system=meta.system,
        model=meta.model,
        seed=meta.seed,
        file=str(results.path),
        items=len(records),
        errors=len(records) - len(answered),
        accuracy=score / len(records) if records else 0.0,
        ci_low=low,
        ci_high=high,
        mean_cost_usd=_mean_usd(_costs(answered)),
        total_cost_usd=sum(_costs(list(records.values())), Decimal(0)),
        mean_input_tokens=_mean([r.input_tokens for r in answered]),
        mean_output_tokens=_mean([r.output_tokens for r in answered]),
        mean_seconds=_mean([r.seconds for r in answered]),
        mean_resource_gib_used=_mean(
            [float(r.resource_gib_used) for r in answered if r.resource_gib_used is not None]
        ),
    )
    return _Run(stats=stats, records=records)


def _compare(runs: list[_Run]) -> list[Comparison]:
    """Every HASHIRU run against every baseline run of the same task, on their shared items."""
    comparisons = []
    for ours in (run for run in runs if run.stats.system == "hashiru"):
        for theirs in (run for run in runs if run.stats.system == "baseline"):
            shared = sorted(ours.records.keys() & theirs.records.keys())
            if ours.stats.task != theirs.stats.task or not shared:
                continue
            mine = [ours.records[i] for i in shared]
            other = [theirs.records[i] for i in shared]
            wins = sum(a.score == 1 and b.score != 1 for a, b in zip(mine, other, strict=True))
            losses = sum(a.score != 1 and b.score == 1 for a, b in zip(mine, other, strict=True))
            comparisons.append(
                Comparison(
                    task=ours.stats.task,
                    hashiru_model=ours.stats.model,
                    baseline_model=theirs.stats.model,
                    items=len(shared),
                    hashiru_accuracy=sum(r.score for r in mine) / len(shared),
                    baseline_accuracy=sum(r.score for r in other) / len(shared),
                    wins=wins,
                    losses=losses,
                    mcnemar_p=mcnemar_exact(wins, losses),
                    hashiru_mean_cost_usd=_mean_usd(_costs(_answered(mine))),
                    baseline_mean_cost_usd=_mean_usd(_costs(_answered(other))),
                    hashiru_mean_seconds=_mean([r.seconds for r in mine if r.error is None]),
                    baseline_mean_seconds=_mean([r.seconds for r in other if r.error is None]),
                )
            )
    return comparisons


RUN_HEADERS = (
    "task",
    "system",
    "model",
    "items",
    "accuracy",
    "95% CI",
    "errors",
    "USD/item",
    "USD total",
    "tokens in/out",
    "s/item",
    "GiB held",
)
PAIR_HEADERS = (
    "task",
    "HASHIRU CEO",
    "baseline",
    "items",
    "HASHIRU acc",
    "baseline acc",
    "wins",
    "losses",
    "McNemar p",
    "USD/item H vs B",
    "s/item H vs B",
)


def run_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [
        (
            s.task,
            s.system,
            s.model,
            str(s.items),
            f"{s.accuracy:.1%}",
            f"{s.ci_low:.1%}-{s.ci_high:.1%}",
            str(s.errors),
            usd(s.mean_cost_usd),
            usd(s.total_cost_usd),
            f"{_num(s.mean_input_tokens)}/{_num(s.mean_output_tokens)}",
            _num(s.mean_seconds, ".2f"),
            _num(s.mean_resource_gib_used, ".2f"),
        )
        for s in summary.runs
    ]


def pair_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [
        (
            c.task,
            c.hashiru_model,
            c.baseline_model,
            str(c.items),
            f"{c.hashiru_accuracy:.1%}",
            f"{c.baseline_accuracy:.1%}",
            str(c.wins),
            str(c.losses),
            f"{c.mcnemar_p:.3g}",
            f"{usd(c.hashiru_mean_cost_usd)} vs {usd(c.baseline_mean_cost_usd)}",
            f"{_num(c.hashiru_mean_seconds, '.2f')} vs {_num(c.baseline_mean_seconds, '.2f')}",
        )
        for c in summary.comparisons
    ]


def to_markdown(summary: Summary, plot_name: str) -> str:
    parts = [
        "# HASHIRUBench summary",
        "## Runs",
        "Accuracy is the mean score over all recorded items (a failed item scores 0), with its "
        "95% Wilson interval; cost, tokens and time are means over the items answered, and "
        "the total cost includes what failed items spent.",
        _markdown_table(RUN_HEADERS, run_rows(summary)),
    ]
    if summary.comparisons:
        parts += [
            "## HASHIRU against the single model, on the same items",
            "Wins: items HASHIRU solved (score 1) and the baseline did not; losses: the "
            "reverse. The p-value is McNemar's exact test on those discordant items.",
            _markdown_table(PAIR_HEADERS, pair_rows(summary)),
        ]
    if summary.employees:
        parts += [
            "## The employees' answers against the gold",
            "Every answer an employee gave a HASHIRU run, scored like the final reply. Right: "
            "solved (score 1), what `bench run --learn` rates good in the scorecard; accuracy: "
            "right / answers, with its 95% Wilson interval; mean score keeps partial credit.",
            _markdown_table(employees.MARKDOWN_HEADERS, employees.markdown_rows(summary.employees)),
        ]
    parts.append(f"![cost against accuracy]({plot_name})")
    return "\n\n".join(parts) + "\n"


def usd(amount: Decimal | None) -> str:
    """Exact and short: $0.018, $0, or — when unknown."""
    if amount is None:
        return "—"
    text = f"{amount:.6f}".rstrip("0").rstrip(".")
    return f"${text}"


TERMINAL_RUN_HEADERS = ("run", "accuracy (95% CI)", "USD/item", "s/item", "tokens")
TERMINAL_PAIR_HEADERS = ("HASHIRU vs model", "acc H/B", "won/lost", "p", "USD H/B", "s H/B")


def terminal_run_rows(summary: Summary) -> list[tuple[str, ...]]:
    """The runs in five columns that fit 80 characters (summary.md has every column)."""
    return [
        (
            f"{s.task} · {s.system}\n{s.model}",
            f"{s.accuracy:.1%} ({s.ci_low:.0%}-{s.ci_high:.0%})\nof {s.items} items"
            + (f", {s.errors} failed" if s.errors else ""),
            usd(s.mean_cost_usd),
            _num(s.mean_seconds, ".2f"),
            f"{_num(s.mean_input_tokens)}/{_num(s.mean_output_tokens)}",
        )
        for s in summary.runs
    ]


def terminal_pair_rows(summary: Summary) -> list[tuple[str, ...]]:
    return [
        (
            f"{c.task}, {c.items} items:\n{c.hashiru_model}\nvs {c.baseline_model}",
            f"{c.hashiru_accuracy:.0%} / {c.baseline_accuracy:.0%}",
            f"{c.wins} / {c.losses}",
            f"{c.mcnemar_p:.3g}",
            f"{usd(c.hashiru_mean_cost_usd)} / {usd(c.baseline_mean_cost_usd)}",
            f"{_num(c.hashiru_mean_seconds, '.1f')} / {_num(c.baseline_mean_seconds, '.1f')}",
        )
        for c in summary.comparisons
    ]


def _print(summary: Summary, console: Console) -> None:
    """Readable at 80 columns: fewer columns, cells wrapped, never cut."""
    table = _rich_table("HASHIRUBench runs", TERMINAL_RUN_HEADERS, terminal_run_rows(summary))
    console.print(table)
    if summary.comparisons:
        title = "HASHIRU against the single model (paired items)"
        console.print(_rich_table(title, TERMINAL_PAIR_HEADERS, terminal_pair_rows(summary)))
    if summary.employees:
        rows = employees.terminal_rows(summary.employees)
        console.print(
            _rich_table("Employee answers against the gold", employees.TERMINAL_HEADERS, rows)
        )
    console.print("[dim]Every column (memory held, mean scores too) is in summary.md.[/]")


def _rich_table(title: str, headers: Sequence[str], rows: list[tuple[str, ...]]) -> Table:
    """The first column (what was run) takes the room left and wraps; the figures do not."""
    table = Table(title=title)
    table.add_column(headers[0], overflow="fold", ratio=1)
    for header in headers[1:]:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _markdown_table(headers: Sequence[str], rows: list[tuple[str, ...]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _answered(records: list[Record]) -> list[Record]:
    return [r for r in records if r.error is None]


def _costs(records: list[Record]) -> list[Decimal]:
    """The spends recorded (a failed item's since the runtime reports it; None before)."""
    return [r.expense_usd for r in records if r.expense_usd is not None]


def _mean_usd(costs: list[Decimal]) -> Decimal | None:
    return sum(costs, Decimal(0)) / len(costs) if costs else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _num(value: float | None, spec: str = ".0f") -> str:
    return "—" if value is None else format(value, spec)
