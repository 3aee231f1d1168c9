"""The two systems under test, asked the same prompt: HASHIRU's CEO loop, or the model alone.

Each item is an independent run: a fresh conversation, long-term memory off (set by the
runner), and the employees an item hired are fired when it ends, so no item inherits another's
staff or their conversations. A failure is returned as an error, never raised: one item must
not end a benchmark.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bench.hashirubench.records import Employee
from hashiru.agents.events import AgentHired, Event
from hashiru.errors import HashiruError
from hashiru.runtime import Hashiru, RunResult

System = Literal["hashiru", "baseline"]
SYSTEMS: tuple[System, ...] = ("hashiru", "baseline")


@dataclass
class Outcome:
    """What an arm did with one prompt: its result, or its error and whom it had hired."""

    result: RunResult | None
    error: str | None
    seconds: float
    employees: list[Employee] = field(default_factory=list)


async def answer(
    hashiru: Hashiru, system: System, model: str, prompt: str, budget_usd: Decimal | None
) -> Outcome:
    """Ask `system` (HASHIRU with `model` as its CEO, or `model` alone) one prompt."""
    hired: list[Employee] = []

    def on_event(event: Event) -> None:
        if isinstance(event, AgentHired):
            hired.append(Employee(name=event.name, model=event.model))

    started = time.monotonic()
    try:
        if system == "hashiru":
            result = await hashiru.run(prompt, on_event=on_event, budget_usd=budget_usd)
        else:
            result = await hashiru.ask_model(model, prompt, budget_usd=budget_usd)
    except HashiruError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}", _since(started), hired)
    finally:
        _fire(hashiru, hired)
    return Outcome(result, None, _since(started), hired)


def _fire(hashiru: Hashiru, hired: list[Employee]) -> None:
    """Fire an item's employees (those it did not fire itself) so the next item starts clean."""
    for employee in hired:
        if employee.name in hashiru.company.roster:
            with contextlib.suppress(HashiruError):  # fired meanwhile by the CEO itself
                hashiru.company.fire("", employee.name)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
