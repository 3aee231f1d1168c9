"""`bench run`: one task, one system, one model, over a seeded sample, resumably.

Items already recorded without an error are skipped, so an interrupted or extended run
(a larger --limit) only pays for what is new. K items run at once on one shared Hashiru.
With `learn`, each employee answer scored against the gold is also a verdict in the
workspace's scorecard (see learning.py): those recorded earlier first, then each item's as
it is recorded, so an interrupted run keeps what it learned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.hashirubench.answers import extract_final_answer
from bench.hashirubench.arms import Answered, Outcome, System, answer
from bench.hashirubench.data import BenchError
from bench.hashirubench.items import Item, seeded_order
from bench.hashirubench.learning import Learned, learn
from bench.hashirubench.records import EmployeeScore, Record, Results, invocation, new_meta
from bench.hashirubench.tasks import TASKS, Task
from hashiru import Hashiru, Provider, RunPolicy, Settings


@dataclass(frozen=True)
class RunOptions:
    task: str
    system: System
    model: str
    data_dir: Path
    out: Path
    limit: int | None = None
    seed: int = 0
    concurrency: int = 1
    budget_usd: Decimal | None = None  # a cap on each item's spend, as `hashiru run` has
    home: Path | None = None  # HASHIRU_HOME for the run; None: the usual one
    learn: bool = False  # rate the employees' answers in the workspace's scorecard


@dataclass
class Tally:
    """The sample's recorded items so far: what the progress bar and the summary show."""

    items: int = 0
    score: float = 0.0
    spent: Decimal = Decimal(0)
    errors: int = 0
    new: int = 0
    learned: Learned | None = None  # with --learn only

    def add(self, record: Record) -> None:
        self.items += 1
        self.score += record.score
        self.spent += record.expense_usd or 0
        self.errors += record.error is not None

    @property
    def accuracy(self) -> float:
        return self.score / self.items if self.items else 0.0


async def run(
    options: RunOptions, providers: Sequence[Provider] = (), console: Console | None = None
) -> Tally:
    """Run the sample's unrecorded items; `providers` adds backends (tests' scripted models)."""
    task = TASKS[options.task]
    items = seeded_order(task.load(options.data_dir), options.seed, options.limit)
    hashiru = Hashiru.from_settings(Settings.load(home=options.home), list(providers))
    try:
        _check_available(hashiru, options.model)
        return await _run_items(hashiru, task, items, options, console)
    finally:
        await hashiru.aclose()


def _item_policy(hashiru: Hashiru, options: RunOptions) -> RunPolicy:
    """Each item's policy: the workspace's, with MODEL as the CEO, memory off (no item learns
    from another) and the item's spending cap."""
    changes: dict[str, object] = {"ceo_model": options.model, "enable_memory": False}
    if options.budget_usd is not None:
        changes["max_usd"] = options.budget_usd
    return hashiru.policy.updated(**changes)


async def _run_items(
    hashiru: Hashiru, task: Task, items: list[Item], options: RunOptions, console: Console | None
) -> Tally:
    policy = _item_policy(hashiru, options)
    results = Results(options.out, task.NAME, options.system, options.model)
    data_file = task.DATA.path(options.data_dir)
    meta = new_meta(task.NAME, options.system, options.model, options.seed, data_file)
    results.start(meta, invocation(options.limit, options.concurrency, options.budget_usd))
    tally = Tally()
    if options.learn:  # answers recorded by earlier runs of this sample, not yet rated
        earlier = await asyncio.to_thread(results.every_record)
        tally.learned = await asyncio.to_thread(learn, hashiru.outcomes, task.NAME, earlier)
    done = results.done()
    for item in items:
        if item.id in done:
            tally.add(done[item.id])
    todo = iter([item for item in items if item.id not in done])
    label = f"{task.NAME} {options.system} {options.model}"
    with _progress(console) as progress:
        bar = progress.add_task(label, total=len(items), completed=tally.items, **_fields(tally))

        async def worker() -> None:
            for item in todo:  # one iterator shared by the workers: each item once
                prompt = task.prompt(item)
                outcome = await answer(hashiru, options.system, options.model, prompt, policy)
                record = to_record(task, item, prompt, outcome)
                results.append(record)
                if tally.learned is not None:
                    just = await asyncio.to_thread(learn, hashiru.outcomes, task.NAME, [record])
                    tally.learned.add(just)
                tally.add(record)
                tally.new += 1
                progress.update(bar, advance=1, **_fields(tally))

        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
    return tally


def to_record(task: Task, item: Item, prompt: str, outcome: Outcome) -> Record:
    """The item's record: scored from the reply's final answer, or an error scored 0."""
    base = {
        "id": item.id,
        "prompt": prompt,
        "gold": item.gold,
        "seconds": outcome.seconds,
        "employees": outcome.employees,
        "answers": [scored(task, item, answered) for answered in outcome.answers],
    }
    result = outcome.result
    if result is None:
        return Record(
            **base,
            run_id=outcome.run_id,
            response="",
            prediction="",
            score=0.0,
            expense_usd=outcome.spent_usd,
            error=outcome.error,
        )
    prediction = extract_final_answer(result.answer)
    return Record(
        **base,
        run_id=result.run_id,
        response=result.answer,
        prediction=prediction,
        score=task.score(item, prediction),
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
        expense_usd=result.cost.expense_usd,
        resource_gib_used=result.cost.resource_gib_used,
        tool_calls=[call.name for call in result.tool_calls],
        steps=result.steps,
    )


def scored(task: Task, item: Item, answered: Answered) -> EmployeeScore:
    """An employee's answer scored as the CEO's reply is: the same extraction, the same scorer."""
    reply = answered.reply
    prediction = extract_final_answer(reply.answer)
    return EmployeeScore(
        agent=reply.agent,
        model=answered.model,
        kind=reply.kind,
        ask_id=reply.ask_id,
        response=reply.answer,
        prediction=prediction,
        score=task.score(item, prediction),
    )


def _check_available(hashiru: Hashiru, model: str) -> None:
    """Fail before the first item, not on each, when the model cannot be used at all."""
    provider = hashiru.providers.model(model).provider
    if reason := provider.unavailable_reason():
        raise BenchError(f"{model} is not available: {reason}")


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[accuracy]}"),
        TextColumn("{task.fields[spent]}"),
        TextColumn("{task.fields[errors]}"),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
    )


def _fields(tally: Tally) -> dict[str, str]:
    """The progress bar's running accuracy, spend and errors."""
    return {
        "accuracy": f"acc {tally.accuracy:.1%}",
        "spent": f"${tally.spent:.4f}",
        "errors": f"[red]{tally.errors} errors[/]" if tally.errors else "",
    }
