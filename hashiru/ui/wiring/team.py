"""The Team tab: hire an employee by hand, or fire one, outside any run (no run id); pick the
kind of task the scorecard shows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import gradio as gr

from hashiru.economy.ledger import NO_RUN
from hashiru.errors import HashiruError
from hashiru.ui import panels
from hashiru.ui.layout import Controls
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import QUIET
from hashiru.ui.wiring.updates import Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App


def wire_team(app: App, c: Controls) -> None:
    outputs = updates.company_outputs(c)

    async def fire(name: str | None, request: gr.Request) -> Updates:
        session = app.session(request)
        if name:
            try:
                await session.hashiru.company.fire(NO_RUN, name)
            except HashiruError as exc:
                gr.Warning(str(exc))
        return await asyncio.to_thread(updates.company, app, c, session, fired=True)

    async def hire(
        name: str | None,
        model: str | None,
        prompt: str | None,
        description: str | None,
        request: gr.Request,
    ) -> Updates:
        session = app.session(request)
        meter = session.hashiru.meter(NO_RUN, session.policy)
        try:
            await session.hashiru.company.hire(
                meter, (name or "").strip(), model or "", prompt or "", description or ""
            )
            gr.Info(f"Hired {name}.")
        except HashiruError as exc:
            gr.Warning(str(exc))
        return await asyncio.to_thread(updates.company, app, c, session)

    async def score_kind(kind: str, request: gr.Request) -> Updates:
        """The scorecard on `kind` (or every kind), kept for this session's refreshes."""
        session = app.session(request)
        session.score_kind = None if kind == panels.ALL_KINDS else kind
        rows = await asyncio.to_thread(panels.score_rows, session.hashiru, session.score_kind)
        return {c.scorecard: rows}

    c.fire.click(fire, [c.fire_choices], outputs, **QUIET)
    hiring = [c.hire_name, c.hire_model, c.hire_prompt, c.hire_description]
    c.hire.click(hire, hiring, outputs, **QUIET)
    c.score_kind.input(score_kind, [c.score_kind], [c.scorecard], **QUIET)
