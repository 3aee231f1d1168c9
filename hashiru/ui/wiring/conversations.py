"""The saved conversations: list, search, page on, open, rename and delete; start a new one.

Opening a conversation brings back its chat, the CEO's context (the Conversation itself) and
the settings it ran with; the browser keeps its id (`c.stored`), so a reload reopens it. A
session sees and changes only its login's conversations (every one without --auth). A bad id,
a damaged conversation or a bad title is a warning, and nothing changes. The store is SQLite
and a long conversation takes a moment to redraw: that work runs on a thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import gradio as gr
from gradio.blocks import Block

from hashiru.conversations import check_title
from hashiru.errors import ConversationError
from hashiru.ui.layout import Controls
from hashiru.ui.session import Session
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import QUIET
from hashiru.ui.wiring.updates import LatestTraces, Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App

BUSY = "A turn is running in this conversation: wait for it or stop it first."


def switched_outputs(c: Controls) -> list[Block]:
    """What changes when the session switches to another conversation."""
    return [
        c.chatbot, c.stored, c.conversation_title, c.conversation_about, c.modes, c.max_steps,
        c.max_seconds, c.ceo_model, c.tools, c.tool_choice, c.trace,
        *updates.conversation_list_outputs(c),
    ]  # fmt: skip


async def switched(c: Controls, session: Session, traces: LatestTraces) -> Updates:
    """The page after the session switched conversation: its chat, settings, tools, list, and
    its latest turn's trace."""

    def read() -> Updates:
        return (
            {c.chatbot: session.chat}
            | updates.conversation(c, session)
            | updates.settings(c, session)
            | updates.tools(c, session)
            | updates.conversation_list(c, session)
            | updates.trace(c, session, traces)
        )

    shown = await asyncio.to_thread(read)
    return shown | {c.ceo_model: gr.Dropdown(value=await updates.ceo_model(session))}


def reopen(session: Session, ref: str) -> None:
    """Open the saved conversation `ref` of this session's login; ConversationError when it is
    unknown, someone else's or damaged (the session is unchanged then). Blocking."""
    session.open(session.hashiru.conversations.get(ref, owner=session.login))


def wire_conversations(app: App, c: Controls, traces: LatestTraces) -> None:
    listing = updates.conversation_list_outputs(c)
    outputs = switched_outputs(c)
    unchanged: Updates = {c.chatbot: gr.skip()}

    def search(query: str, request: gr.Request) -> Updates:
        session = app.session(request)
        session.query, session.listed = query or "", []
        return updates.conversation_list(c, session)

    def more(request: gr.Request) -> Updates:
        return updates.conversation_list(c, app.session(request), more=True)

    async def open_selected(event: gr.SelectData, request: gr.Request) -> Updates:
        session = app.session(request)
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        if session.running:
            gr.Warning(BUSY)
            return unchanged
        if not 0 <= row < len(session.listed):  # the list changed under the click
            return await asyncio.to_thread(updates.conversation_list, c, session)
        try:
            await asyncio.to_thread(reopen, session, session.listed[row].id)
        except ConversationError as exc:
            gr.Warning(str(exc))
            return unchanged
        return await switched(c, session, traces)

    async def new_chat(request: gr.Request) -> Updates:
        session = app.session(request)
        if session.running:
            gr.Warning(BUSY)
            return unchanged
        session.reset()
        return await switched(c, session, traces)

    def rename(title: str, request: gr.Request) -> Updates:
        session = app.session(request)
        opened = session.conversation
        try:
            if opened.saved:
                store = session.hashiru.conversations
                opened.title = store.rename(opened.id, title or "", owner=session.login).title
            else:  # kept for when its first turn is saved
                opened.title = check_title(title or "")
        except ConversationError as exc:
            gr.Warning(str(exc))
        return updates.conversation(c, session) | updates.conversation_list(c, session)

    async def delete(request: gr.Request) -> Updates:
        session = app.session(request)
        if session.running:
            gr.Warning(BUSY)
            return unchanged
        opened = session.conversation
        if opened.saved:
            store = session.hashiru.conversations
            try:
                await asyncio.to_thread(store.delete, opened.id, owner=session.login)
            except ConversationError as exc:
                gr.Warning(str(exc))
                return unchanged
            gr.Info(f"Deleted “{opened.title}”.")
        session.reset()
        return await switched(c, session, traces)

    c.conversation_query.change(
        search, [c.conversation_query], listing, trigger_mode="always_last", **QUIET
    )
    c.conversation_query.submit(search, [c.conversation_query], listing, **QUIET)
    c.more_conversations.click(more, None, listing, **QUIET)
    c.conversations.select(open_selected, None, outputs, **QUIET)
    c.new_chat.click(new_chat, None, outputs, **QUIET)
    c.chatbot.clear(new_chat, None, outputs, **QUIET)  # the chat's own bin: start afresh too
    about = [c.stored, c.conversation_title, c.conversation_about, *listing]
    c.rename.click(rename, [c.conversation_title], about, **QUIET)
    c.conversation_title.submit(rename, [c.conversation_title], about, **QUIET)
    c.delete_conversation.click(delete, None, outputs, **QUIET)
