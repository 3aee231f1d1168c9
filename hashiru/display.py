"""Values as people read them: one formatter for every renderer (the CLI, the app).

Runs report typed values (a tool call's result or error, a ledger row, an amount of money);
this module is the one place that turns them into text, so the terminal and the app never
disagree and never parse JSON back out of a string.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

from hashiru.agents.events import (
    ContextCompacted,
    EmployeeAnswer,
    HireReceipt,
    ModelPulling,
    ToolCallFinished,
)
from hashiru.agents.staffing import Choice
from hashiru.economy.ledger import Entry
from hashiru.economy.outcomes import ScoreLine
from hashiru.economy.resources import gib
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


@dataclass(frozen=True)
class PullView:
    """A model's download as every renderer shows it: what goes where, and how far it is."""

    title: str  # "Downloading ollama:phi4-mini to http://gpu-a:11434" ("Downloaded" once done)
    percent: int  # of the bytes announced so far; 100 once done
    amount: str  # "0.45 of 1.80 GiB"; "" until Ollama announces a layer's size
    step: str  # what Ollama is doing: "pulling 1a2b3c4d5e6f", "verifying sha256 digest"
    done: bool

    @property
    def detail(self) -> str:
        """`42% · 0.45 of 1.80 GiB · pulling 1a2b3c4d5e6f`: everything but the title."""
        parts = [f"{self.percent}%", self.amount, "" if self.done else self.step]
        return " · ".join(part for part in parts if part)

    @property
    def line(self) -> str:
        """The whole download on one line, for a log or a terminal with no bar."""
        return f"{self.title}: {self.detail}"


def pull_view(event: ModelPulling) -> PullView:
    """A `ModelPulling` event in words. Ollama announces layers as it goes, so the total can
    grow and the percent step back; it reads 100 only once the pull succeeded."""
    return PullView(
        title=f"{'Downloaded' if event.done else 'Downloading'} {event.model} to {event.host}",
        percent=_pulled_percent(event),
        amount=f"{gib(event.completed)} of {gib(event.total)} GiB" if event.total else "",
        step=event.status,
        done=event.done,
    )


def _pulled_percent(event: ModelPulling) -> int:
    if event.done:
        return 100
    return min(event.completed * 100 // event.total, 99) if event.total else 0


def bar(percent: int, width: int = 20) -> str:
    """`█████░░░░░░░░░░░░░░░`: a progress bar in text, for renderers that have none."""
    filled = max(0, min(width, percent * width // 100))
    return "█" * filled + "░" * (width - filled)


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

    kind: str  # "answer" | "error" | "choice" | "value"
    text: str
    agent: str = ""


def tool_result(
    event: ToolCallFinished, limit: int = BRIEF_CHARS, indent: int | None = None
) -> ResultView:
    """An employee's answer, an error and an `auto:<kind>` hire's choice whole; any other
    result as JSON (indented by `indent`, one line without) cut to `limit`."""
    if not event.ok:
        return ResultView("error", event.error or "failed")
    if isinstance(event.result, EmployeeAnswer):
        return ResultView("answer", event.result.answer, agent=event.result.agent)
    if isinstance(event.result, HireReceipt) and event.result.choice is not None:
        return ResultView("choice", hire_choice(event.result, event.result.choice))
    return ResultView("value", brief(event.result, limit, indent))


def hire_choice(receipt: HireReceipt, choice: Choice) -> str:
    """Whom `auto:<kind>` hired and why, then each candidate's numbers, best first:

    auto:math hired solver on ollama:qwen3:8b: the best value of 3 models at $0.05 ...
      model                     record       drawn   $/ask    value
      ollama:qwen3:8b           40 good/2    0.93   0.0000   0.0465
      gemini:gemini-2.5-pro     untried      passed over: no price is known for it
    """
    lines = [
        f"auto:{choice.kind} hired {receipt.hired} on {receipt.model}: {choice.reason}",
        "  value = drawn success x the worth of a right answer - $/ask",
        f"  {'model':<26} {'record':<12} {'drawn':>5} {'$/ask':>8} {'value':>8}",
    ]
    for c in choice.candidates:
        record = f"{c.good} good/{c.bad}" if c.good + c.bad else "untried"
        if c.passed_over or c.drawn_success is None or c.value_usd is None:
            numbers = f"passed over: {c.passed_over}"
        else:
            cost = usd(c.usd_per_ask or Decimal(0))
            numbers = f"{c.drawn_success:>5.2f} {cost:>8} {c.value_usd:>8.4f}"
        lines.append(f"  {clip(c.ref, 26):<26} {record:<12} {numbers}")
    return "\n".join(lines)


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


SCORE_COLUMNS = ("model", "kind", "success", "$/ask", "s/ask", "asks", "good", "bad", "failed")
"""The scorecard's headers, in `ScoreRow`'s order, for the CLI's table and the app's."""
SCORECARD_FILLS = (
    "Every ask_agent call is filed here; the CEO rates answers with rate_agent, and "
    "`python -m bench run ... --learn` adds verdicts scored against gold answers."
)
"""How a scorecard fills: what the CLI and the app say while it is empty, and beside it."""
SCORECARD_READS = (
    "success: good answers of those judged (good, bad or failed), with its 95% interval; "
    "asks nobody judged count toward cost only."
)
"""How to read the success column: the CLI's caption, and the app's note."""


@dataclass(frozen=True)
class ScoreRow:
    """One model's record on one kind of task, as the CLI's table and the app's show it."""

    model: str
    kind: str
    success: str  # the rate, then its 95% interval in brackets; "—" while nothing is judged
    usd: str  # mean dollars per ask
    seconds: str  # mean seconds per ask
    asks: int
    good: int
    bad: int
    failed: int

    def cells(self) -> list[Any]:
        """The row's values in `SCORE_COLUMNS` order."""
        return list(astuple(self))


def score_row(line: ScoreLine) -> ScoreRow:
    """The line in words: the success rate and its interval ("73% (43-90%)", an en dash in
    fact), the mean cost to the micro-dollar (rounded up, so a paid model never reads as free),
    the mean seconds to a tenth."""
    rate, interval = line.success_rate, line.interval
    success = "—"
    if rate is not None and interval is not None:
        success = f"{rate:.0%} ({interval[0] * 100:.0f}\N{EN DASH}{interval[1]:.0%})"
    return ScoreRow(
        model=line.model,
        kind=line.kind,
        asks=line.asks,
        good=line.good,
        bad=line.bad,
        failed=line.failed,
        success=success,
        usd=usd(line.mean_usd.quantize(Decimal("1e-6"), rounding=ROUND_UP)),
        seconds=f"{line.mean_seconds:.1f}",
    )


Span = Mapping[str, Any]
"""A finished span as `Tracing.spans` gives it: the OpenTelemetry SDK's JSON, as a dict."""


@dataclass(frozen=True)
class WaterfallRow:
    """One span of a turn's trace as the app draws it: where it sits in the tree and on the
    turn's timeline, who did it, and what it took."""

    depth: int  # 0 for the turn itself; a child is one deeper than its parent
    kind: str  # gen_ai.operation.name: "invoke_agent", "chat", "execute_tool"; else "step"
    label: str  # who: "chat gpt-4.1-mini · cloud" (the span's name, then its agent)
    start_ms: float  # from the start of the trace's first span
    duration_ms: float
    took: str  # "12 ms", "1.24 s"
    tokens: str  # "1,000/200" (in/out); "" where the span has no usage
    usd: str  # "0.0012", "0.000006" (rounded up); "" where the span has no cost
    failed: bool  # an error status, or a tool's error.type
    marks: tuple[str, ...]  # what happened in it, in words: hires, fires, refusals, errors

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms


def waterfall(spans: Sequence[Span]) -> list[WaterfallRow]:
    """A trace's spans as rows, each under its parent (children oldest first), timed from the
    trace's first start. A span whose parent is not among `spans` is a root."""
    if not spans:
        return []
    ids = {span["context"]["span_id"] for span in spans}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in sorted(spans, key=_start):
        parent = span.get("parent_id")
        children[parent if parent in ids else None].append(span)
    origin = min(_start(span) for span in spans)
    rows: list[WaterfallRow] = []

    def place(span: Span, depth: int) -> None:
        rows.append(_waterfall_row(span, depth, origin))
        for child in children[span["context"]["span_id"]]:
            place(child, depth + 1)

    for root in children[None]:
        place(root, 0)
    return rows


def took(ms: float) -> str:
    """A duration as people read it: "<1 ms", "340 ms", "1.24 s", "2 min 05 s"."""
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds:02d} s"


def _waterfall_row(span: Span, depth: int, origin: datetime) -> WaterfallRow:
    attributes = span.get("attributes") or {}
    start = _start(span)
    duration = _ms(_end(span) - start)
    status = span.get("status") or {}
    error = attributes.get("error.type")
    failed = bool(error) or status.get("status_code") == "ERROR"
    marks = [_event_mark(event) for event in span.get("events") or []]
    if failed and not marks:  # no event says what went wrong: say what the span does
        marks.append(f"failed ({error or status.get('description') or 'error'})")
    return WaterfallRow(
        depth=depth,
        kind=attributes.get("gen_ai.operation.name") or span["name"].split(" ")[0],
        label=_who(span["name"], attributes),
        start_ms=_ms(start - origin),
        duration_ms=duration,
        took=took(duration),
        tokens=_tokens(attributes),
        usd=_cost(attributes),
        failed=failed,
        marks=tuple(marks),
    )


def _who(name: str, attributes: Mapping[str, Any]) -> str:
    """The span's name, then the agent that made it where the name does not say it already."""
    agent = attributes.get("hashiru.agent") or attributes.get("gen_ai.agent.name")
    if not agent or name.split(" ")[-1] == agent:
        return name
    return f"{name} · {agent}"


def _tokens(attributes: Mapping[str, Any]) -> str:
    used = attributes.get("gen_ai.usage.input_tokens"), attributes.get("gen_ai.usage.output_tokens")
    if used == (None, None):
        return ""
    return "/".join(f"{n or 0:,}" for n in used)


def _cost(attributes: Mapping[str, Any]) -> str:
    """To the micro-dollar, rounded up (as the scorecard's): short, and a paid call never
    reads as free."""
    cost = attributes.get("hashiru.cost_usd")
    if cost is None:
        return ""
    return usd(Decimal(str(cost)).quantize(Decimal("1e-6"), rounding=ROUND_UP))


def _event_mark(event: Mapping[str, Any]) -> str:
    """A span's event in words: the hashiru.* ones we record, and the SDK's exceptions."""
    name = event.get("name", "")
    said = event.get("attributes") or {}
    agent, model = said.get("hashiru.agent", ""), said.get("gen_ai.request.model", "")
    if name == "hashiru.agent_hired":
        return f"hired {agent} ({model})"
    if name == "hashiru.agent_fired":
        return f"fired {agent}"
    if name == "hashiru.budget_refused":
        return f"refused: {said.get('hashiru.reason', '')}"
    if name == "hashiru.context_compacted":
        before, after = said.get("hashiru.tokens_before", 0), said.get("hashiru.tokens_after", 0)
        return f"{agent}'s context compacted: {before:,} → {after:,} tokens"
    if name == "hashiru.model_pulled":
        return f"downloaded {said.get('hashiru.model', '')} to {said.get('hashiru.host', '')}"
    if name == "exception":
        return f"failed: {said.get('exception.type', '')}: {said.get('exception.message', '')}"
    return name.removeprefix("hashiru.").replace("_", " ")


def _start(span: Span) -> datetime:
    return datetime.fromisoformat(span["start_time"])


def _end(span: Span) -> datetime:
    return datetime.fromisoformat(span["end_time"])


def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000
