"""Values as people read them: one formatter for every renderer (the CLI, the app).

Runs report typed values (a tool call's result or error, a ledger row, an amount of money);
this module is the one place that turns them into text, so the terminal and the app never
disagree and never parse JSON back out of a string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hashiru.agents.events import ContextCompacted, EmployeeAnswer, HireReceipt, ToolCallFinished
from hashiru.economy.ledger import Entry
from hashiru.tools.base import json_ready

BRIEF_CHARS = 300


def usd(amount: Decimal, places: int = 4) -> str:
    """Dollars to `places` decimals ("0.0100"), or more where the amount needs them: a budget
    of $0.005 reads "0.005", never "0.00"."""
    shown = f"{amount:,.{places}f}"
    if Decimal(shown.replace(",", "")) == amount:
        return shown
    return f"{amount.normalize():,f}"


def compaction(event: ContextCompacted) -> str:
    """`ceo's context compacted: 5,210 → 1,980 tokens (window 4,096)`."""
    return (
        f"{event.agent}'s context compacted: {event.tokens_before:,} → "
        f"{event.tokens_after:,} tokens (window {event.window:,})"
    )


def tool_cost(event: ToolCallFinished) -> Decimal | None:
    """What a call spent, where its result says: an employee's answer, or a hire's fee."""
    if isinstance(event.result, EmployeeAnswer):
        return event.result.cost_usd
    if isinstance(event.result, HireReceipt):
        return event.result.hire_fee_usd
    return None


@dataclass(frozen=True)
class ResultView:
    """A tool call's outcome in words: an employee's answer, an error, or a plain value."""

    kind: str  # "answer" | "error" | "value"
    text: str
    agent: str = ""


def tool_result(
    event: ToolCallFinished, limit: int = BRIEF_CHARS, indent: int | None = None
) -> ResultView:
    """An employee's answer and an error whole; any other result as JSON (indented by
    `indent`, one line without) cut to `limit`."""
    if not event.ok:
        return ResultView("error", event.error or "failed")
    if isinstance(event.result, EmployeeAnswer):
        return ResultView("answer", event.result.answer, agent=event.result.agent)
    return ResultView("value", brief(event.result, limit, indent))


def brief(value: Any, limit: int = 120, indent: int | None = None) -> str:
    """A value as JSON (a string as itself), cut to `limit` characters."""
    return clip(value if isinstance(value, str) else as_json(value, indent), limit)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_json(value: Any, indent: int | None = None) -> str:
    """JSON for people: Decimals and other exact values as their text, typed reports as fields."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=json_ready)


@dataclass(frozen=True)
class LedgerRow:
    """One ledger row as both the CLI's table and the app's show it."""

    id: int
    time: str
    run: str
    kind: str
    agent: str
    model: str
    tokens: str
    usd: str
    note: str
    in_flight: bool  # a hold or its release: shown dimmed


def ledger_row(entry: Entry, time_format: str = "%m-%d %H:%M:%S") -> LedgerRow:
    """Tokens for calls; a hold's amount in parentheses, as it is not spent (yet)."""
    amount = "" if entry.usd is None else f"{entry.usd:.6f}".rstrip("0").rstrip(".")
    return LedgerRow(
        id=entry.id,
        time=entry.at.strftime(time_format),
        run=entry.run_id[:6],
        kind=entry.kind,
        agent=entry.agent,
        model=entry.model,
        tokens=f"{entry.input_tokens}/{entry.output_tokens}" if entry.kind == "settle" else "",
        usd=f"({amount})" if entry.kind == "reserve" else amount,
        note=entry.note,
        in_flight=entry.kind in ("reserve", "release"),
    )
