"""The two systems under test, asked the same prompt: HASHIRU's CEO loop, or the model alone.

Each item is an independent run: a fresh conversation, under the runner's policy (long-term
memory off, the item's spending cap), and the employees an item hired are fired when it ends,
so no item inherits another's staff or their conversations. A failure is returned as an error,
with its run id and what it spent, never raised: one item must not end a benchmark.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bench.hashirubench.records import Employee
from hashiru import NO_RUN, AgentHired, Event, Hashiru, HashiruError, RunPolicy, RunResult

System = Literal["hashiru", "baseline"]
SYSTEMS: tuple[System, ...] = ("hashiru", "baseline")


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


async def answer(
    hashiru: Hashiru, system: System, model: str, prompt: str, policy: RunPolicy
) -> Outcome:
    """Ask `system` (HASHIRU with `model` as its CEO, or `model` alone) one prompt."""
    hired: list[Employee] = []

    def on_event(event: Event) -> None:
        if isinstance(event, AgentHired):
            hired.append(Employee(name=event.name, model=event.model))

    started = time.monotonic()
    try:
        if system == "hashiru":
            result = await hashiru.run(prompt, on_event=on_event, policy=policy)
        else:
            result = await hashiru.ask_model(model, prompt, policy=policy)
    except HashiruError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return Outcome(None, error, _since(started), hired, exc.run_id, exc.spent_usd)
    finally:
        await _fire(hashiru, hired)
    return Outcome(result, None, _since(started), hired)


async def _fire(hashiru: Hashiru, hired: list[Employee]) -> None:
    """Fire an item's employees (those it did not fire itself) so the next item starts clean."""
    for employee in hired:
        with contextlib.suppress(HashiruError):  # fired meanwhile by the CEO itself
            await hashiru.company.fire(NO_RUN, employee.name)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
