"""The page's life: fill it for a new session, keep the shared panels fresh, forget it on close.

The workspace's state fills the page at once, with the conversation this browser had open
(its id kept in the browser, so a reload or a restart of the app brings it back); the models
the backends offer (for hiring and for the CEO) follow in a step of their own, since surveying
the backends loads their SDKs the first time. Other sessions and `hashiru` commands move the
same ledger and roster, so the team and budget are re-read every few seconds, except while
this session's own turn does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from hashiru.economy.resources import gib
from hashiru.errors import ConversationError
from hashiru.providers.discovery import survey
from hashiru.ui.layout import Controls
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import QUIET
from hashiru.ui.wiring.conversations import reopen
from hashiru.ui.wiring.memory import Search
from hashiru.ui.wiring.updates import LatestTraces, Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App

REFRESH_SECONDS = 5.0


def wire_page(app: App, c: Controls, search_memories: Search, traces: LatestTraces) -> None:
    def opened(stored: str | None, request: gr.Request) -> Updates:
        """The workspace and this session as they are now, on the conversation the browser
        had open (a sync handler: on a thread)."""
        session = app.session(request)
        if isinstance(stored, str) and stored and stored != session.conversation.id:
            try:
                reopen(session, stored)
            except ConversationError as exc:  # deleted meanwhile, or damaged
                gr.Warning(f"The conversation open before cannot be reopened: {exc}")
        state = session.hashiru.ledger.state()
        return (
            updates.company(app, c, session)
            | updates.tools(c, session)
            | updates.settings(c, session)
            | updates.conversation(c, session)
            | updates.conversation_list(c, session)
            | updates.trace(c, session, traces)
            | {
                c.chatbot: session.chat,
                c.usd: float(state.usd_total),
                c.gib: float(gib(state.memory_total_bytes)),
            }
        )

    async def models(request: gr.Request) -> Updates:
        session = app.session(request)
        found = [
            m.ref for s in await survey(session.hashiru.providers) if s.available for m in s.models
        ]
        return {
            c.ceo_model: gr.Dropdown(choices=found, value=await updates.ceo_model(session)),
            c.hire_model: gr.Dropdown(choices=found),
        }

    def tick(request: gr.Request) -> Updates:
        session = app.session(request)
        if session.running:  # the chat handler refreshes the panels itself
            return gr.skip()
        return updates.company(app, c, session)

    workspace = [
        *updates.company_outputs(c), c.tools, c.tool_choice, c.chatbot, c.modes,
        c.max_steps, c.max_seconds, c.usd, c.gib, c.stored, c.conversation_title,
        c.conversation_about, c.trace, *updates.conversation_list_outputs(c),
    ]  # fmt: skip
    # the CEO model shown is the reopened conversation's: after it is reopened
    app.blocks.load(opened, [c.stored], workspace, **QUIET).then(
        models, None, [c.ceo_model, c.hire_model], **QUIET
    )
    app.blocks.load(search_memories, [c.memory_query], [c.memories, c.memory_id], **QUIET)
    timer = gr.Timer(REFRESH_SECONDS)
    timer.tick(tick, None, updates.company_outputs(c), **QUIET)

    def closed(request: gr.Request) -> None:
        app.sessions.drop(request.session_hash)

    app.blocks.unload(closed)
