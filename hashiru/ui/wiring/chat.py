"""The conversation: send a message, stream the turn, stop it, approve a tool.

The chat handler streams `run_turn`'s transcript and refreshes the team and budget panels as
hires, calls and fires happen; one turn at a time per session, and the message box is locked
while it runs. When it ends, the conversation list shows the saved turn, and the Trace panel
its waterfall.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from hashiru.agents.events import AgentFired, AgentHired, ToolCallFinished
from hashiru.agents.toolsmith import ToolRequest
from hashiru.ui.layout import Controls
from hashiru.ui.turn import run_turn
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import PRIVATE, QUIET
from hashiru.ui.wiring.updates import LatestTraces, Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App

PANEL_EVENTS = (ToolCallFinished, AgentHired, AgentFired)
"""Events after which the team and budget panels are refreshed mid-turn."""


def wire_chat(app: App, c: Controls, traces: LatestTraces) -> None:
    chat_outputs = [c.chatbot, c.message, c.approval, c.approval_text, c.approval_code, c.approve]
    outputs = {*chat_outputs, *updates.company_outputs(c)}

    def take(message: dict[str, Any] | None) -> tuple[gr.MultimodalTextbox, Any]:
        """Empty and lock the box at once, in a step of its own (a generator's first update
        was seen to arrive too late), and hand the message on to `chat`."""
        return _message_box(running=True), message

    async def chat(message: dict[str, Any] | None, request: gr.Request) -> AsyncIterator[Updates]:
        session = app.session(request)
        text = ((message or {}).get("text") or "").strip()
        files = (message or {}).get("files") or []
        if session.running or not (text or files):
            yield {c.message: _message_box(running=False)}
            return
        # Gradio streams a generator's updates as diffs, and a component skipped after it was
        # set, in a tab not opened yet, is left broken (an empty table, a plot's JS error) when
        # the tab opens. So once set, the panels go with every update: unchanged, no bytes.
        panels_now: Updates = {}
        async for update in run_turn(session, text, files):
            shown: Updates = {c.chatbot: update.transcript.messages}
            if update.approval:
                session.pending = update.approval.decision
                shown |= _approval_prompt(c, update.approval.request)
            if update.trace_id:
                traces.record(session.conversation.id, update.trace_id)
            if update.done or isinstance(update.event, PANEL_EVENTS):
                panels_now = await asyncio.to_thread(updates.company, app, c, session)
                shown[c.fire_choices] = panels_now.pop(c.fire_choices)  # keep the person's pick
            yield shown | panels_now
        yield {c.message: _message_box(running=False)} | panels_now

    taken = gr.State()
    send = c.message.submit(take, [c.message], [c.message, taken], **QUIET).then(
        chat, [taken], outputs, concurrency_limit=None, **PRIVATE
    )

    def after(request: gr.Request) -> Updates:
        """The turn may have made or deleted a tool, it saved itself in the conversation, and
        it left a trace."""
        session = app.session(request)
        return (
            updates.tools(c, session)
            | updates.conversation(c, session)
            | updates.conversation_list(c, session)
            | updates.trace(c, session, traces)
        )

    saved = [c.stored, c.conversation_title, c.conversation_about]
    listing = updates.conversation_list_outputs(c)
    send.then(after, None, [c.tools, c.tool_choice, *saved, *listing, c.trace], **QUIET)

    async def stopped(request: gr.Request) -> Updates:
        session = app.session(request)
        for _ in range(100):  # Gradio may cancel the turn before it has wound down
            if not session.running:
                break
            await asyncio.sleep(0.05)
        return {
            c.chatbot: session.chat,
            c.message: _message_box(running=False),
            c.approval: gr.Group(visible=False),
        }

    c.message.stop(None, None, None, cancels=[send], **PRIVATE).then(
        stopped, None, [c.chatbot, c.message, c.approval], **QUIET
    )

    def decide(approved: bool) -> Callable[[gr.Request], Awaitable[Updates]]:
        async def handler(request: gr.Request) -> Updates:  # on the loop awaiting the future
            session = app.session(request)
            if session.pending is not None and not session.pending.done():
                session.pending.set_result(approved)
            session.pending = None
            return {c.approval: gr.Group(visible=False)}

        return handler

    c.approve.click(decide(True), None, [c.approval], **QUIET)
    c.reject.click(decide(False), None, [c.approval], **QUIET)


def _message_box(running: bool) -> gr.MultimodalTextbox:
    """Emptied and locked while a turn runs (its stop button still works), then free again.

    The stop button stays in place: swapping it for the submit button by updates left it
    missing in one of our CI runs, and a turn that cannot be stopped is worse than a button.
    """
    if running:
        return gr.MultimodalTextbox(value=None, interactive=False)
    return gr.MultimodalTextbox(interactive=True)


def _approval_prompt(c: Controls, request: ToolRequest) -> Updates:
    """A tool the CEO wrote (its code), a call to an MCP server's tool (its arguments), or a
    model to download for a hire (no code to show)."""
    if request.pull_host is None:
        text, language = request.shown
        code = gr.Code(value=text, language=language, visible=True)
    else:  # its description is all there is to read
        code = gr.Code(value="", visible=False)
    return {
        c.approval: gr.Group(visible=True),
        c.approval_text: f"{_asked(request)} {request.question}",
        c.approval_code: code,
        c.approve: gr.Button(_approve_label(request)),
    }


def _asked(request: ToolRequest) -> str:
    """Who wants what, before the question: as the terminal says it (`hashiru.cli.run`)."""
    if request.pull_host is not None:
        return (
            f"The CEO wants to download **{request.name}** to **{request.pull_host}**. "
            f"{request.description}"
        )
    if request.server is None:
        network = " It asks for **network access**." if request.needs_network else ""
        return f"The CEO wrote a tool **{request.name}**: {request.description}.{network}"
    return (
        f"The CEO wants to call **{request.name}** ({request.description}) on the MCP "
        f"server **{request.server}**, with these arguments."
    )


def _approve_label(request: ToolRequest) -> str:
    """The yes button says what yes does."""
    if request.pull_host is not None:
        return "Download"
    return "Enable the tool" if request.server is None else "Allow"
