"""The Budget tab: set the workspace's expense (USD) and resource (GiB) budgets."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import gradio as gr

from hashiru.economy.resources import GIB
from hashiru.errors import HashiruError
from hashiru.ui.layout import Controls
from hashiru.ui.wiring import updates
from hashiru.ui.wiring.common import QUIET
from hashiru.ui.wiring.updates import Updates

if TYPE_CHECKING:
    from hashiru.ui.app import App


def wire_budget(app: App, c: Controls) -> None:
    def save(usd: float | None, memory: float | None, request: gr.Request) -> Updates:
        session = app.session(request)
        try:
            session.hashiru.ledger.set_budget(
                usd=None if usd is None else Decimal(str(usd)),
                memory_bytes=None if memory is None else int(Decimal(str(memory)) * GIB),
            )
            gr.Info("Budgets saved.")
        except (HashiruError, ValueError, InvalidOperation) as exc:
            gr.Warning(str(exc))
        return updates.budget(app, c, session)

    c.save_budget.click(save, [c.usd, c.gib], [c.gauges, c.ledger, c.spend], **QUIET)
