"""The Settings tab: this session's CEO model, switches and caps (its RunPolicy).

A change is validated by `RunPolicy.updated`: a bad value is a warning and changes nothing.
The tools panel follows, since the switches decide what the CEO is offered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr
from gradio.components import Component

from hashiru.ui.layout import Controls
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import QUIET, attempt
from hashiru.ui.wiring.updates import Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App


def wire_settings(app: App, c: Controls) -> None:
    tool_outputs = [c.tools, c.tool_choice]

    def configure(control: Component, name: str) -> Callable[[Any, gr.Request], Updates]:
        def handler(value: Any, request: gr.Request) -> Updates:
            session = app.session(request)
            attempt(session.configure, **{name: value or None})
            return updates.tools(c, session) | {control: getattr(session.policy, name)}

        return handler

    def set_modes(modes: list[str], request: gr.Request) -> Updates:
        session = app.session(request)
        attempt(session.set_modes, modes or [])
        return updates.tools(c, session) | {c.modes: session.modes()}

    c.modes.input(set_modes, [c.modes], [*tool_outputs, c.modes], **QUIET)
    for control, name in (
        (c.ceo_model, "ceo_model"),
        (c.max_steps, "max_steps"),
        (c.max_seconds, "max_seconds"),
    ):
        control.input(configure(control, name), [control], [*tool_outputs, control], **QUIET)
