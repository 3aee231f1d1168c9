"""The Tools tab: read a tool's code, enable (approve), disable or delete a generated tool; and
the MCP servers' tools, with each server's state.

The MCP table is filled by an async handler of its own, when the page opens and when asked
again: starting a server can take seconds (its `timeout` at worst, for one that hangs), which
the rest of the page must not wait for. It runs on Gradio's event loop, the one the runs use,
since a server's session belongs to the loop that started it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

from hashiru.settings import McpServerSettings
from hashiru.tools.mcp import ServerStatus
from hashiru.ui import panels
from hashiru.ui.layout import Controls
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import QUIET, attempt
from hashiru.ui.wiring.updates import Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App


def wire_tools(app: App, c: Controls) -> None:
    def show(name: str | None, request: gr.Request) -> gr.Code:
        if not name:
            return gr.Code(value="")
        session = app.session(request)
        code, language = panels.tool_source(session.hashiru, session.policy, name)
        return gr.Code(value=code, language=language)

    def change(action: str) -> Callable[[str | None, gr.Request], Updates]:
        def handler(name: str | None, request: gr.Request) -> Updates:
            session = app.session(request)
            registry = session.hashiru.toolsmith.registry
            if name and action == "delete":
                attempt(registry.delete, name)
            elif name:
                enable = action == "enable"  # enabling is the person's approval
                attempt(registry.update, name, enabled=enable, approved=True if enable else None)
            return updates.tools(c, session)

        return handler

    async def mcp_servers(request: gr.Request) -> Updates:
        """Start the enabled MCP servers not running yet and list their tools; one that does
        not start (it is tried again here until its starts are spent) says why. A disabled
        server is not started: it is one row saying so."""
        hashiru = app.session(request).hashiru
        configured = hashiru.settings.mcp_servers
        started = await asyncio.gather(
            *(hashiru.mcp.status(name) for name, server in configured.items() if server.enabled)
        )
        listed = {status.name: status for statuses in started for status in statuses}
        servers = [listed.get(name) or _resting(name, s) for name, s in configured.items()]
        return {c.mcp_tools: panels.mcp_rows(servers), c.mcp_note: panels.mcp_note(servers)}

    mcp_outputs = [c.mcp_tools, c.mcp_note]
    app.blocks.load(mcp_servers, None, mcp_outputs, **QUIET)
    c.mcp_check.click(mcp_servers, None, mcp_outputs, **QUIET)
    c.tool_choice.change(show, [c.tool_choice], [c.tool_code], **QUIET)
    for button, action in (
        (c.enable_tool, "enable"),
        (c.disable_tool, "disable"),
        (c.delete_tool, "delete"),
    ):
        button.click(change(action), [c.tool_choice], [c.tools, c.tool_choice], **QUIET)


def _resting(name: str, server: McpServerSettings) -> ServerStatus:
    """A disabled server, as the MCP table shows it without starting it."""
    return ServerStatus(
        name=name,
        transport=server.transport,
        enabled=False,
        approval=server.approval_mode,
        ok=False,
    )
