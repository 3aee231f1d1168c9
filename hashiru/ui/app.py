"""The app: one workspace, the sessions of the browsers and clients using it, and their page.

`build_app` assembles it in order: the two HASHIRUBench endpoints first (so they own their
names), then the layout, then the handlers that `wiring` attaches. `launch` serves the App it
returns and `shutdown` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from datetime import UTC, datetime

import gradio as gr

from hashiru.runtime import Hashiru
from hashiru.ui.api import add_api
from hashiru.ui.layout import layout
from hashiru.ui.session import Session, Sessions
from hashiru.ui.wiring import wire


class App:
    """The page (`blocks`) over one workspace; each browser session has its own Session."""

    def __init__(self, workspace: Hashiru, blocks: gr.Blocks) -> None:
        self.workspace = workspace
        self.blocks = blocks
        self.sessions = Sessions(workspace)
        self.opened = datetime.now(UTC)  # the spend plot starts here, at zero
        latest = workspace.ledger.entries(last=1)
        self.first_row = latest[-1].id if latest else 0  # and counts the rows after this one
        self.loop: asyncio.AbstractEventLoop | None = None  # Gradio's, where the runs happen

    def session(self, request: gr.Request) -> Session:
        """The Session of the browser tab or client that sent `request`."""
        if self.loop is None:  # the first async handler tells it; sync ones run on threads
            with contextlib.suppress(RuntimeError):
                self.loop = asyncio.get_running_loop()
        return self.sessions.get(request.session_hash, request.username)


def build_app(workspace: Hashiru) -> App:
    """The whole page over `workspace`; serve it with `hashiru.ui.launch`."""
    with gr.Blocks(title="HASHIRU", analytics_enabled=False) as blocks:
        app = App(workspace, blocks)
        add_api(app.session)
        wire(app, layout(storage_key(workspace)))
    return app


def storage_key(workspace: Hashiru) -> str:
    """Where a browser keeps the id of its open conversation: one key per workspace, so two
    workspaces served on one address in turn never open each other's ids."""
    home = str(workspace.settings.home.resolve())
    return f"hashiru-conversation-{hashlib.sha256(home.encode()).hexdigest()[:12]}"
