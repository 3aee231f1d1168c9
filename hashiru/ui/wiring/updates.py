"""The panels' new contents as Gradio updates, keyed by the components they fill.

Every hire, call and fire moves the team, its scorecard and the budget together (`company`);
the session's switches and the toolsmith move the tools (`tools`); each turn moves the
conversation list (`conversation_list`) and leaves a trace (`trace`). They read SQLite and the
tool registry, so an async handler calls them through `asyncio.to_thread`; Gradio runs sync
handlers on its worker threads already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr
from gradio.blocks import Block

from hashiru import display
from hashiru.conversations import PAGE_SIZE
from hashiru.errors import ConfigError
from hashiru.ui import panels
from hashiru.ui.layout import Controls
from hashiru.ui.session import Session

if TYPE_CHECKING:
    from hashiru.ui.app import App

Updates = dict[Block, Any]
"""New values (or Gradio update objects) by component, as a handler returns them."""


def company_outputs(c: Controls) -> list[Block]:
    """The components `company` fills."""
    return [c.team, c.fire_choices, c.scorecard, c.gauges, c.ledger, c.spend]


def company(app: App, c: Controls, session: Session, fired: bool = False) -> Updates:
    """The team and the budget, which every hire, call and fire moves."""
    return team(c, session, fired) | budget(app, c, session)


def team(c: Controls, session: Session, fired: bool = False) -> Updates:
    """The team, and the names to fire; the person's pick stays unless it was just `fired`
    (the refresh every few seconds must not undo a pick made a moment before clicking Fire);
    and the scorecard, on the kind this session picked."""
    rows = panels.team_rows(session.hashiru)
    names = [row[0] for row in rows]
    pick = {"value": None} if fired else {}
    return {
        c.team: rows,
        c.fire_choices: gr.Dropdown(choices=names, **pick),
        c.scorecard: panels.score_rows(session.hashiru, session.score_kind),
    }


def budget(app: App, c: Controls, session: Session) -> Updates:
    ledger = session.hashiru.ledger
    return {
        c.gauges: panels.budget_html(ledger.state()),
        c.ledger: panels.ledger_rows(ledger.entries(last=panels.LEDGER_ROWS)),
        c.spend: panels.spend_frame(ledger.entries(after_id=app.first_row), app.opened),
    }


def tools(c: Controls, session: Session) -> Updates:
    """The tools a turn of this session would be offered, and the generated ones it is not."""
    rows = panels.tool_rows(session.hashiru, session.policy)
    return {c.tools: rows, c.tool_choice: gr.Dropdown(choices=[r[0] for r in rows])}


def conversation_list_outputs(c: Controls) -> list[Block]:
    """The components `conversation_list` fills."""
    return [c.conversations, c.conversations_count, c.more_conversations]


def conversation_list(c: Controls, session: Session, more: bool = False) -> Updates:
    """The first page of this login's conversations matching the session's query, or as many
    as it shows already; with `more`, the next page too. Never the whole list."""
    if more:
        offset, limit = len(session.listed), PAGE_SIZE
    else:
        offset, limit = 0, max(PAGE_SIZE, len(session.listed))
    page = session.hashiru.conversation_page(
        owner=session.login, query=session.query, offset=offset, limit=limit
    )
    session.listed = [*session.listed[:offset], *page.items]
    shown = len(session.listed)
    return {
        c.conversations: panels.conversation_rows(session.listed),
        c.conversations_count: panels.conversations_count(page, shown, session.query),
        c.more_conversations: gr.Button(visible=page.more),
    }


def conversation(c: Controls, session: Session) -> Updates:
    """The open conversation's id (for the browser to keep), title and facts."""
    opened = session.conversation
    return {
        c.stored: opened.id if opened.saved else "",
        c.conversation_title: opened.title,
        c.conversation_about: panels.conversation_about(opened),
    }


class LatestTraces:
    """The trace of each conversation's latest turn run by this app, by conversation id.

    Spans live in the process's memory (`Hashiru.tracing`), so this does too: a conversation
    reopened after a restart, or continued by `hashiru run`, has no trace here."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def record(self, conversation_id: str, trace_id: str) -> None:
        self._ids[conversation_id] = trace_id

    def get(self, conversation_id: str) -> str | None:
        return self._ids.get(conversation_id)


def trace(c: Controls, session: Session, traces: LatestTraces) -> Updates:
    """The waterfall of the open conversation's latest turn, or a line saying why there is
    none: tracing is off, no turn has run yet, or its spans are not in this process."""
    tracing = session.hashiru.tracing
    trace_id = traces.get(session.conversation.id)
    if tracing is None:
        shown = panels.trace_note(panels.TRACING_OFF)
    elif trace_id is None:
        said = panels.NO_TRACE_KEPT if session.conversation.turns else panels.NO_TURN_YET
        shown = panels.trace_note(said)
    else:
        shown = panels.waterfall_html(display.waterfall(tracing.spans(trace_id)), trace_id)
    return {c.trace: shown}


def settings(c: Controls, session: Session) -> Updates:
    """The settings controls as the session's policy has them (its CEO model: `ceo_model`)."""
    return {
        c.modes: session.modes(),
        c.max_steps: session.policy.max_steps,
        c.max_seconds: session.policy.max_seconds,
    }


async def ceo_model(session: Session) -> str | None:
    """The CEO model a turn of this session would use, as `hashiru doctor` says; None if none."""
    try:
        return await session.hashiru.ceo_model(session.policy)
    except ConfigError:
        return None
