"""The two systems under test, asked the same prompt: HASHIRU's CEO loop, or the model alone.

Each item is an independent run: a fresh conversation, under the runner's policy (long-term
memory off, the item's spending cap), and the employees an item hired are fired when it ends,
so no item inherits another's staff or their conversations. A failure is returned as an error,
with its run id and what it spent, never raised: one item must not end a benchmark.

HASHIRU's employees' answers (the `ask_agent` results) are kept with the model each was asked
on, as the scorecard filed it, so the runner can score every one against the gold.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bench.hashirubench.records import Employee
from hashiru import (
    NO_RUN,
    AgentHired,
    EmployeeAnswer,
    Event,
    Hashiru,
    HashiruError,
    RunPolicy,
    RunResult,
    ToolCallFinished,
)

System = Literal["hashiru", "baseline"]
SYSTEMS: tuple[System, ...] = ("hashiru", "baseline")


@dataclass(frozen=True)
class Answered:
    """An employee's answer, and the model it was asked on."""

    model: str
    reply: EmployeeAnswer


@dataclass
class Outcome:
    """What an arm did with one prompt: its result, or its error, its run and what it spent,
    and whom it had hired."""

    result: RunResult | None
    error: str | None
    seconds: float
    employees: list[Employee] = field(default_factory=list)
    run_id: str | None = None  # a failed run's; a result carries its own
    spent_usd: Decimal | None = None  # a failed run's spend, from the ledger
    answers: list[Answered] = field(default_factory=list)


async def answer(
    hashiru: Hashiru, system: System, model: str, prompt: str, policy: RunPolicy
) -> Outcome:
    """Ask `system` (HASHIRU with `model` as its CEO, or `model` alone) one prompt."""
    hired: list[Employee] = []
    replies: list[EmployeeAnswer] = []

    def on_event(event: Event) -> None:
        if isinstance(event, AgentHired):
            hired.append(Employee(name=event.name, model=event.model))
        elif isinstance(event, ToolCallFinished) and isinstance(event.result, EmployeeAnswer):
            replies.append(event.result)

    started = time.monotonic()
    result, error, run_id, spent = None, None, None, None
    try:
        if system == "hashiru":
            result = await hashiru.run(prompt, on_event=on_event, policy=policy)
        else:
            result = await hashiru.ask_model(model, prompt, policy=policy)
    except HashiruError as exc:
        error, run_id, spent = f"{type(exc).__name__}: {exc}", exc.run_id, exc.spent_usd
    finally:
        await _fire(hashiru, hired)
    seconds = _since(started)
    answers = await _answered(hashiru, result.run_id if result else run_id, replies, hired)
    return Outcome(result, error, seconds, hired, run_id, spent, answers)


async def _answered(
    hashiru: Hashiru, run_id: str | None, replies: list[EmployeeAnswer], hired: list[Employee]
) -> list[Answered]:
    """Each reply with its model: the one its ask was filed under in the scorecard (so the
    report and the scorecard agree), else the model this item hired the employee on."""
    if not replies:
        return []
    asks = await asyncio.to_thread(hashiru.outcomes.asks, run_id=run_id) if run_id else []
    models = {employee.name: employee.model for employee in hired}
    filed = {ask.id: ask.model for ask in asks}
    return [
        Answered(filed.get(reply.ask_id) or models.get(reply.agent, "unknown"), reply)
        for reply in replies
    ]


async def _fire(hashiru: Hashiru, hired: list[Employee]) -> None:
    """Fire an item's employees (those it did not fire itself) so the next item starts clean."""
    for employee in hired:
        with contextlib.suppress(HashiruError):  # fired meanwhile by the CEO itself
            await hashiru.company.fire(NO_RUN, employee.name)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
