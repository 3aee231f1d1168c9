"""The Memory tab: search the workspace's memories, and delete one.

Chroma's reads and writes run in a thread, off the event loop that streams every session's
turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import gradio as gr

from hashiru.ui import panels
from hashiru.ui.layout import Controls
from hashiru.ui.wiring.common import QUIET, attempt
from hashiru.ui.wiring.updates import Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App

Search = Callable[[str, gr.Request], Awaitable[Updates]]


def wire_memory(app: App, c: Controls) -> Search:
    """Wire the memory tab; returns its search, which also fills the tab when a page opens."""

    async def search(query: str, request: gr.Request) -> Updates:
        session = app.session(request)
        if not session.policy.enable_memory:
            return {c.memories: [], c.memory_id: gr.Dropdown(choices=[])}
        rows = await asyncio.to_thread(panels.memory_rows, session.hashiru, query or "")
        return {c.memories: rows, c.memory_id: gr.Dropdown(choices=[r[0] for r in rows])}

    async def forget(memory_id: str | None, query: str, request: gr.Request) -> Updates:
        if memory_id:
            store = app.session(request).hashiru.memory
            await asyncio.to_thread(attempt, store.delete, memory_id)
        return await search(query, request)

    outputs = [c.memories, c.memory_id]
    c.memory_search.click(search, [c.memory_query], outputs, **QUIET)
    c.memory_query.submit(search, [c.memory_query], outputs, **QUIET)
    c.forget.click(forget, [c.memory_id, c.memory_query], outputs, **QUIET)
    return search
