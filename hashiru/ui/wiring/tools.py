"""The Tools tab: read a tool's code, enable (approve), disable or delete a generated tool."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

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

    c.tool_choice.change(show, [c.tool_choice], [c.tool_code], **QUIET)
    for button, action in (
        (c.enable_tool, "enable"),
        (c.disable_tool, "disable"),
        (c.delete_tool, "delete"),
    ):
        button.click(change(action), [c.tool_choice], [c.tools, c.tool_choice], **QUIET)
