"""The page's handlers, one module per panel: each `wire_*` attaches a panel's events.

`conversations` (the saved ones), `chat` (the open one, and its latest turn's trace), `team`,
`budget`, `tools`, `memory`, `settings` (the tabs) and `page` (opening, refreshing and closing
the page). Handlers read what they show from `panels` through `updates`; async ones do their
SQLite, Chroma and file work in a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashiru.ui.layout import Controls
from hashiru.ui.wiring.budget import wire_budget
from hashiru.ui.wiring.chat import wire_chat
from hashiru.ui.wiring.conversations import wire_conversations
from hashiru.ui.wiring.memory import wire_memory
from hashiru.ui.wiring.page import wire_page
from hashiru.ui.wiring.settings import wire_settings
from hashiru.ui.wiring.team import wire_team
from hashiru.ui.wiring.tools import wire_tools
from hashiru.ui.wiring.updates import LatestTraces

if TYPE_CHECKING:
    from hashiru.ui.app import App


def wire(app: App, c: Controls) -> None:
    """Attach every handler to the page being built in `app.blocks`."""
    traces = LatestTraces()  # the chat records each turn's; the page and the list show them
    wire_conversations(app, c, traces)
    wire_chat(app, c, traces)
    wire_team(app, c)
    wire_budget(app, c)
    wire_tools(app, c)
    search_memories = wire_memory(app, c)
    wire_settings(app, c)
    wire_page(app, c, search_memories, traces)
