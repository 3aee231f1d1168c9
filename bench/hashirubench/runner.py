"""`bench run`: one task, one system, one model, over a seeded sample, resumably.

Items already recorded without an error are skipped, so an interrupted or extended run
(a larger --limit) only pays for what is new. K items run at once on one shared Hashiru.
With `learn`, each employee answer scored against the gold is also a verdict in the
workspace's scorecard (see learning.py): those recorded earlier first, then each item's as
it is recorded, so an interrupted run keeps what it learned. With `record`, the run's model
calls are kept on a cassette as each item finishes; with `replay`, they answer every call
instead of any provider (see cassettes.py).
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
from bench.hashirubench.cassettes import Recorder, played
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
    record: Path | None = None  # keep the model calls on a cassette in this folder
    replay: Path | None = None  # answer every model call from the cassette in this folder


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
    """Run the sample's unrecorded items; `providers` adds backends (tests' scripted models),
    which a replay does without: its cassette answers every call."""
    _check_tapes(options)
    task = TASKS[options.task]
    items = seeded_order(task.load(options.data_dir), options.seed, options.limit)
    results = Results(options.out, task.NAME, options.system, options.model)
    hashiru, recorder = _workspace(options, results.path.stem, providers)
    try:
        _check_available(hashiru, options.model)
        return await _run_items(hashiru, task, items, results, options, console, recorder)
    finally:
        await hashiru.aclose()


def _workspace(
    options: RunOptions, run_name: str, providers: Sequence[Provider]
) -> tuple[Hashiru, Recorder | None]:
    """The Hashiru every item runs on: its calls recorded into the run's cassette, played back
    from it, or neither; and the recorder that writes the cassette, when recording."""
    settings = Settings.load(home=options.home)
    if options.replay is not None:
        cassette = played(options.replay / run_name)
        return Hashiru.from_settings(settings, cassette=cassette, replay="only"), None
    if options.record is None:
        return Hashiru.from_settings(settings, list(providers)), None
    recorder = Recorder(options.record / run_name, settings, options.model)
    return Hashiru.from_settings(settings, list(providers), cassette=recorder.cassette), recorder


def _check_tapes(options: RunOptions) -> None:
    """Refuse what a replay cannot do: record at once, or rate its answers, whose $0 asks
    would tell the scorecard that every model is free."""
    if options.replay is None:
        return
    if options.record is not None:
        raise BenchError("--record and --replay go apart: a replay makes no call to record.")
    if options.learn:
        raise BenchError(
            "--learn rates a replay's asks, which cost $0 and would make every model look "
            "free to auto:<kind>: learn when recording (or re-run the recording with --learn)."
        )


def _item_policy(hashiru: Hashiru, options: RunOptions) -> RunPolicy:
    """Each item's policy: the workspace's, with MODEL as the CEO, memory off (no item learns
    from another) and the item's spending cap."""
    changes: dict[str, object] = {"ceo_model": options.model, "enable_memory": False}
    if options.budget_usd is not None:
        changes["max_usd"] = options.budget_usd
    return hashiru.policy.updated(**changes)


async def _run_items(
    hashiru: Hashiru,
    task: Task,
    items: list[Item],
    results: Results,
    options: RunOptions,
    console: Console | None,
    recorder: Recorder | None,
) -> Tally:
    policy = _item_policy(hashiru, options)
    data_file = task.DATA.path(options.data_dir)
    meta = new_meta(task.NAME, options.system, options.model, options.seed, data_file)
    tapes = {"record": options.record, "replay": options.replay}
    results.start(meta, invocation(options.limit, options.concurrency, options.budget_usd, **tapes))
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
                if recorder is not None:  # its calls on disk before the record that needs them
                    recorder.flush()
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
