"""The side panels' contents (conversations, team, scorecard, budget, tools, MCP servers,
memory, the latest turn's trace) as rows and HTML.

Pure functions of the workspace's state, so the chat handler can refresh them mid-turn and the
tests can check them without a browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from hashiru import display
from hashiru.agents.hr_tools import THIS_MACHINE_LABEL, Workforce
from hashiru.agents.hr_tools import TOOL_NAMES as HR_TOOL_NAMES
from hashiru.agents.memory_tools import TOOL_NAMES as MEMORY_TOOL_NAMES
from hashiru.conversations import Conversation, ConversationPage, ConversationSummary
from hashiru.economy.ledger import NO_RUN, THIS_MACHINE, BudgetState, Entry, HostMemory
from hashiru.economy.outcomes import KINDS
from hashiru.economy.resources import gib
from hashiru.runtime import Hashiru
from hashiru.settings import RunPolicy
from hashiru.tools import Tool
from hashiru.tools.mcp import ServerStatus
from hashiru.tracing import KEPT_TRACES
from hashiru.transcript import WHERE

CONVERSATION_COLUMNS = ["conversation", "when", "USD"]
TEAM_COLUMNS = ["name", "model", "where", "calls", "fails", "USD", "mean s", "host"]
"""`host`: where the employee's model is loaded, when its backend has several places."""
SCORE_COLUMNS = list(display.SCORE_COLUMNS)
ALL_KINDS = "all"
KIND_CHOICES = [ALL_KINDS, *KINDS]
"""The scorecard's filter: every kind, or one."""
LEDGER_COLUMNS = ["#", "time", "kind", "agent", "model", "tokens", "USD"]
TOOL_COLUMNS = ["name", "origin", "v", "state", "description"]
MCP_COLUMNS = ["name", "server", "state", "description"]
MEMORY_COLUMNS = ["id", "kind", "text", "recalls", "created"]
LEDGER_ROWS = 200
NO_TOOL = "—"
"""The name cell of a server that lists no tools: it does not start."""


def conversation_rows(items: list[ConversationSummary]) -> list[list[Any]]:
    """The list's rows, newest first: title, when it was last updated (the time today, else
    the date; local time), spend."""
    today = datetime.now().astimezone().date()
    rows = []
    for item in items:
        updated = item.updated_at.astimezone()
        when = updated.strftime("%H:%M" if updated.date() == today else "%Y-%m-%d")
        spent = "" if item.spent_usd is None else f"{item.spent_usd:.4f}"  # as the team shows
        rows.append([item.title, when, spent])
    return rows


def conversations_count(page: ConversationPage, shown: int, query: str) -> str:
    if not page.total:
        return "*No conversation matches.*" if query.strip() else "*No conversations yet.*"
    return f"*{shown:,} of {page.total:,}*"


def conversation_about(conversation: Conversation) -> str:
    """Where and when the open conversation started, and its id (for `hashiru run --continue`)."""
    if not conversation.saved:
        return "*New conversation: it is saved with its first answer.*"
    started = conversation.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    turns = len(conversation.turns)
    return (
        f"`{conversation.id}` · started {started} in {WHERE[conversation.source]} · "
        f"{turns} turn{'' if turns == 1 else 's'}"
    )


def team_rows(hashiru: Hashiru) -> list[list[Any]]:
    spent = hashiru.ledger.state().spent_by_agent
    rows = []
    for employee in hashiru.company.roster:
        s = employee.summary()
        rows.append(
            [
                s["name"],
                s["model"],
                "local" if s["local"] else "cloud",
                s["calls"],
                s["failures"],
                f"{spent.get(employee.name, Decimal(0)):.4f}",
                s["mean_seconds"],
                s["host"],
            ]
        )
    return rows


def score_rows(hashiru: Hashiru, kind: str | None = None) -> list[list[Any]]:
    """Each model's record per kind (on `kind` only, if given), best first within a kind.
    Blocking: SQLite."""
    return [display.score_row(line).cells() for line in hashiru.scorecard(kind)]


def budget_html(state: BudgetState) -> str:
    """Two gauges: expense (spent, reserved, free) and resource memory (used, free); with hosts
    that have budgets of their own, a memory gauge for each, naming the models it holds."""
    usd = _gauge(
        "Expense",
        state.usd_total,
        [("spent", state.usd_spent, "#ef4444"), ("reserved", state.usd_reserved, "#f59e0b")],
        lambda v: f"${v:.4f}",
        f"${state.usd_free:.4f} free of ${state.usd_total:.2f}",
    )
    machine = HostMemory(
        total_bytes=state.memory_total_bytes,
        used_bytes=state.memory_used_bytes,
        free_bytes=state.memory_free_bytes,
        models=state.models_in_memory,
    )
    hosts = {host: budget for host, budget in state.budgets.items() if host != THIS_MACHINE}
    if not hosts:
        return f'<div class="hashiru-gauges">{usd}{_memory_gauge(machine)}</div>'
    memory = [_memory_gauge(machine, THIS_MACHINE_LABEL)]
    memory += [_memory_gauge(budget, host) for host, budget in hosts.items()]
    return f'<div class="hashiru-gauges">{usd}{"".join(memory)}</div>'


def _memory_gauge(budget: HostMemory, host: str = "") -> str:
    """A memory budget's gauge; given its `host`, it names it and the models loaded there."""
    total, free = gib(budget.total_bytes), gib(budget.free_bytes)
    caption = f"{free} GiB free of {total} GiB"
    if host:
        caption = f"{host}: {caption} · {', '.join(budget.models) or 'no model loaded'}"
    used = [("used", gib(budget.used_bytes), "#6366f1")]
    return _gauge("Resource", total, used, lambda v: f"{v} GiB", caption, host)


def _gauge(title, total, parts, show, caption, host: str = "") -> str:
    segments, legend = [], []
    for label, value, colour in parts:
        share = min(Decimal(100), 100 * value / total) if total else Decimal(0)
        segments.append(f'<span style="width:{share:.1f}%;background:{colour}"></span>')
        legend.append(f'<span style="color:{colour}">■</span> {label} {html.escape(show(value))}')
    where = f' data-host="{html.escape(host)}"' if host else ""
    return (
        f'<div class="hashiru-gauge" data-gauge="{title.lower()}"{where}>'
        f"<b>{title}</b> <small>{html.escape(caption)}</small>"
        f'<div class="bar">{"".join(segments)}</div>'
        f"<small>{' · '.join(legend)}</small></div>"
    )


def ledger_rows(entries: list[Entry]) -> list[list[Any]]:
    """The latest rows first; holds in flight show their amount in parentheses."""
    rows = [display.ledger_row(entry, time_format="%H:%M:%S") for entry in reversed(entries)]
    return [[r.id, r.time, r.kind, r.agent, r.model, r.tokens, r.usd] for r in rows]


def spend_frame(entries: list[Entry], since: datetime) -> pd.DataFrame:
    """Cumulative spend (USD) over `entries`, from zero at `since`: a point per paid row."""
    points = [(since, 0.0)]
    total = 0.0
    for entry in entries:
        if entry.kind in ("settle", "hire", "adjust") and entry.usd:
            total += float(entry.usd)
            points.append((entry.at, total))
    frame = pd.DataFrame(points, columns=["time", "spent USD"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)  # one dtype, so the axis is time
    return frame


def offered_tools(hashiru: Hashiru, policy: RunPolicy) -> list[Tool]:
    """The tools a turn under `policy` would offer the CEO now."""
    return hashiru.tools(hashiru.meter(NO_RUN, policy), Workforce(), lambda event: None)


def tool_rows(hashiru: Hashiru, policy: RunPolicy) -> list[list[Any]]:
    """Every tool the CEO is offered now, then generated tools it is not offered."""
    offered = offered_tools(hashiru, policy)
    manifests = {m.name: m for m in hashiru.toolsmith.registry.manifests()}
    rows = []
    for tool in offered:
        manifest = manifests.pop(tool.name, None)
        version = manifest.version if manifest else ""
        rows.append([tool.name, _origin(tool.name, manifest), version, "offered", tool.description])
    for m in manifests.values():
        state = "disabled" if m.approved else "awaiting approval"
        state = "off (switch)" if m.active else state
        rows.append([m.name, "generated", m.version, state, m.description])
    return rows


def _origin(name: str, manifest: object) -> str:
    if manifest is not None:
        return "generated"
    if name in HR_TOOL_NAMES:
        return "workforce"
    if name in MEMORY_TOOL_NAMES:
        return "memory"
    return "built-in"


def mcp_rows(servers: Sequence[ServerStatus]) -> list[list[Any]]:
    """Each MCP server's tools as the CEO calls them (`<server>__<tool>`), with their server and
    state (enabled or disabled); a server that is down is one row, its description saying why,
    and a tool it offers that cannot be used is a row saying why it is left out."""
    rows = []
    for server in servers:
        if not server.ok:
            down = [NO_TOOL, server.name, "down", server.error or ""]
            rows.append(down if server.enabled else [NO_TOOL, server.name, "disabled", ""])
            continue
        state = "enabled" if server.enabled else "disabled"
        label = f"[MCP {server.name}] "  # the CEO's description names the server: a column here
        for tool in server.tools:
            rows.append([tool.name, server.name, state, tool.description.removeprefix(label)])
        for skipped in server.skipped:
            tool, _, why = skipped.partition(": ")
            rows.append([tool, server.name, "left out", why])
    return rows


def mcp_note(servers: Sequence[ServerStatus]) -> str:
    """A line above the MCP table: how many servers, and how many are down."""
    if not servers:
        return "*No MCP servers: `hashiru mcp add NAME -- COMMAND` (or `--url URL`) adds one.*"
    down = sum(1 for s in servers if s.enabled and not s.ok)
    tools = sum(len(s.tools) for s in servers if s.enabled)
    count = f"{_counted(len(servers), 'MCP server')}, {_counted(tools, 'tool')}"
    return f"*{count}{f', {down} down' if down else ''} (`hashiru mcp list`).*"


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def tool_source(hashiru: Hashiru, policy: RunPolicy, name: str) -> tuple[str, str]:
    """A generated tool's code (Python), or a built-in's JSON schema."""
    registry = hashiru.toolsmith.registry
    if any(m.name == name for m in registry.manifests()):
        return registry.code(name), "python"
    for tool in offered_tools(hashiru, policy):
        if tool.name == name:
            return json.dumps(tool.spec.model_dump(), indent=2), "json"
    return "", "python"


def memory_rows(hashiru: Hashiru, query: str = "") -> list[list[Any]]:
    store = hashiru.memory
    found = [r.memory for r in store.search(query, k=50)] if query.strip() else store.list()
    return [
        [m.id, m.kind, m.text, m.recalls, m.created_at.strftime("%Y-%m-%d %H:%M")] for m in found
    ]


TRACE_KINDS = {
    "invoke_agent": ("the turn", "#6366f1"),
    "step": ("a step", "#94a3b8"),
    "chat": ("a model call", "#10b981"),
    "execute_tool": ("a tool", "#f59e0b"),
}
"""The waterfall's bar colour for each kind of span, and its name in the legend."""
FAILED_COLOUR = "#ef4444"
TRACING_OFF = (
    "Tracing is off, so turns leave no trace to show: set <code>tracing = true</code> in "
    "hashiru.toml (<code>hashiru ui</code> turns it on)."
)
NO_TURN_YET = "Each turn's trace shows here when it ends: who worked, how long, what it cost."
NO_TRACE_KEPT = (
    "No trace of this conversation's last turn here: traces are kept in memory, for turns "
    "run in this app since it started."
)


def trace_note(text: str) -> str:
    """One line in place of the waterfall (`text` is HTML: it may hold <code>)."""
    return f'<p class="hashiru-trace-note"><small>{text}</small></p>'


def waterfall_html(rows: Sequence[display.WaterfallRow], trace_id: str) -> str:
    """A turn's spans as bars on its timeline, each indented under its parent: who, how long,
    how many tokens in/out, how many dollars; what happened in a span (a hire, a refusal, an
    error) on a line under it."""
    if not rows:
        return trace_note(
            f"The spans of trace <code>{html.escape(trace_id)}</code> are gone: the app keeps "
            f"the latest {KEPT_TRACES} traces in memory."
        )
    total = max(row.end_ms for row in rows)
    head = '<b>span</b><b>timeline</b><b>took</b><b title="input/output">tokens</b><b>USD</b>'
    body = "".join(_waterfall_row(row, total) for row in rows)
    keys = " · ".join(
        f'<span style="color:{colour}">■</span> {name}'
        for name, colour in [*TRACE_KINDS.values(), ("failed", FAILED_COLOUR)]
    )
    caption = f"{display.took(total)} · {len(rows)} spans · trace {html.escape(trace_id)}"
    return (
        f'<div class="hashiru-trace" data-trace="{html.escape(trace_id)}">'
        f"<small>{caption}</small>"
        f'<div class="hashiru-waterfall"><div class="head">{head}</div>{body}</div>'
        f"<small>{keys}</small></div>"
    )


def _waterfall_row(row: display.WaterfallRow, total: float) -> str:
    """The row's cells, and a line of its marks; the bar is placed in percent of `total`."""
    left = 100 * row.start_ms / total if total else 0.0
    width = 100 * row.duration_ms / total if total else 0.0
    colour = FAILED_COLOUR if row.failed else TRACE_KINDS.get(row.kind, ("", "#64748b"))[1]
    indent = f"padding-left:{row.depth * 0.9:.1f}em"
    label = html.escape(row.label)
    at = html.escape(f"starts at +{display.took(row.start_ms)}, takes {row.took}")
    numbers = "".join(
        f'<span class="num">{html.escape(n)}</span>' for n in (row.took, row.tokens, row.usd)
    )
    cells = (
        f'<span class="who" style="{indent}" title="{label}: {at}">{label}</span>'
        f'<span class="track"><span class="bar" style="left:{left:.2f}%;width:{width:.2f}%;'
        f'background:{colour}"></span></span>{numbers}'
    )
    failed = " data-failed" if row.failed else ""
    shown = (
        f'<div class="row" data-depth="{row.depth}" data-kind="{html.escape(row.kind)}"{failed}>'
    )
    marks = " · ".join(html.escape(mark) for mark in row.marks)
    under = f'<div class="marks" style="{indent}">{marks}</div>' if marks else ""
    return f"{shown}{cells}</div>{under}"
