"""The Gradio app: the chat with the CEO beside the team, the money, the tools and the memory.

`build_app` lays the page out and wires each control to a small handler; what a handler shows
comes from `panels` (the workspace's state) and `transcript` (the run's events). The two
endpoints of the original HASHIRUBench are added by `api`, and are the only public ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import gradio as gr

from hashiru.agents.events import AgentFired, AgentHired, ToolCallFinished
from hashiru.economy.resources import GIB, gib
from hashiru.errors import ConfigError, HashiruError
from hashiru.providers.discovery import survey
from hashiru.runtime import Hashiru
from hashiru.ui import panels
from hashiru.ui.api import add_api
from hashiru.ui.session import MODE_LABELS, Session, Sessions
from hashiru.ui.turn import run_turn

PRIVATE = {"api_visibility": "private"}
QUIET = {**PRIVATE, "show_progress": "hidden"}
PANEL_EVENTS = (ToolCallFinished, AgentHired, AgentFired)
COMPANY_PANELS = ("team", "fire_choices", "gauges", "ledger", "spend")
"""What `App.company` fills: the team and the budget, refreshed together."""
REFRESH_SECONDS = 5.0

CSS = """
.hashiru-gauges { display: grid; gap: 0.75rem; }
.hashiru-gauge .bar { display: flex; height: 0.8rem; border-radius: 0.4rem; overflow: hidden;
  background: var(--neutral-200); margin: 0.3rem 0; }
.hashiru-gauge .bar span { display: block; height: 100%; }
#hashiru-header { margin-bottom: 0; }
"""


def theme() -> gr.themes.Base:
    """A clean theme with system fonts: nothing is fetched from a font service."""
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


class App:
    """The app's handlers over one workspace; each browser session has its own Session."""

    def __init__(self, workspace: Hashiru) -> None:
        self.workspace = workspace
        self.sessions = Sessions(workspace)
        self.opened = datetime.now(UTC)
        latest = workspace.ledger.entries(last=1)
        self.first_row = latest[-1].id if latest else 0  # the session's spend is after this row
        self.loop: asyncio.AbstractEventLoop | None = None  # Gradio's, where the runs happen

    def session(self, request: gr.Request) -> Session:
        if self.loop is None:  # the first async handler tells it; sync ones run on threads
            with contextlib.suppress(RuntimeError):
                self.loop = asyncio.get_running_loop()
        return self.sessions.get(request.session_hash)

    # --- panels -------------------------------------------------------------------------

    def company(self, session: Session) -> dict[str, Any]:
        """The team and the budget (COMPANY_PANELS), which every hire, call and fire moves."""
        return self.team(session) | self.budget(session)

    def team(self, session: Session) -> dict[str, Any]:
        rows = panels.team_rows(session.hashiru)
        names = [row[0] for row in rows]
        return {"team": rows, "fire_choices": gr.Dropdown(choices=names, value=None)}

    def budget(self, session: Session) -> dict[str, Any]:
        ledger = session.hashiru.ledger
        return {
            "gauges": panels.budget_html(ledger.state()),
            "ledger": panels.ledger_rows(ledger.entries(last=panels.LEDGER_ROWS)),
            "spend": panels.spend_frame(ledger.entries(after_id=self.first_row), self.opened),
        }

    def tools(self, session: Session) -> dict[str, Any]:
        rows = panels.tool_rows(session.hashiru)
        return {"tools": rows, "tool_choice": gr.Dropdown(choices=[r[0] for r in rows])}


def build_app(workspace: Hashiru) -> gr.Blocks:
    """The whole page; launch it with `hashiru.ui.launch`, which adds the theme and CSS."""
    app = App(workspace)
    with gr.Blocks(title="HASHIRU", analytics_enabled=False) as blocks:
        blocks.hashiru_app = app  # for launch() and the tests
        add_api(app.session)  # first, so these two own their names
        c = _layout()
        _wire_chat(app, c)
        _wire_team(app, c)
        _wire_budget(app, c)
        _wire_tools(app, c)
        search_memories = _wire_memory(app, c)
        _wire_settings(app, c)
        _wire_refresh(app, c, blocks, search_memories)
    return blocks


class Controls(dict):
    """The page's components by name, readable as attributes."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


def _layout() -> Controls:
    c = Controls()
    gr.Markdown("## HASHIRU · your CEO agent and its team", elem_id="hashiru-header")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=520):
            with gr.Group(visible=False, elem_id="approval") as c.approval:
                c.approval_text = gr.Markdown()
                c.approval_code = gr.Code(
                    language="python", interactive=False, show_label=False, max_lines=14
                )
                with gr.Row():
                    c.approve = gr.Button("Enable the tool", variant="primary", elem_id="approve")
                    c.reject = gr.Button("Refuse", variant="stop", elem_id="reject")
            c.chatbot = gr.Chatbot(
                label="Conversation",
                elem_id="chat",
                height=560,
                buttons=["copy"],
                feedback_options=None,
                placeholder="Ask the CEO anything. It hires employees, pays them from your "
                "budget, and fires them when done.",
            )
            c.message = gr.MultimodalTextbox(
                placeholder="Message the CEO (attach files for the file tools)…",
                file_count="multiple",
                show_label=False,
                stop_btn=True,
                elem_id="message",
            )
            c.new_chat = gr.Button("New conversation", size="sm", elem_id="new-chat")
        with gr.Column(scale=2, min_width=400), gr.Tabs():
            _team_tab(c)
            _budget_tab(c)
            _tools_tab(c)
            _memory_tab(c)
            _settings_tab(c)
    return c


def _team_tab(c: Controls) -> None:
    with gr.Tab("Team", elem_id="tab-team"):
        c.team = gr.Dataframe(headers=panels.TEAM_COLUMNS, interactive=False, elem_id="team")
        with gr.Row():
            c.fire_choices = gr.Dropdown(label="Employee", choices=[], scale=3, elem_id="fire-name")
            c.fire = gr.Button("Fire", variant="stop", scale=1, elem_id="fire")
        with gr.Accordion("Hire an employee", open=False):
            c.hire_name = gr.Textbox(label="Name", elem_id="hire-name")
            c.hire_model = gr.Dropdown(label="Model", choices=[], allow_custom_value=True)
            c.hire_prompt = gr.Textbox(label="System prompt", lines=2)
            c.hire_description = gr.Textbox(label="What it is for")
            c.hire = gr.Button("Hire", variant="primary")


def _budget_tab(c: Controls) -> None:
    with gr.Tab("Budget", elem_id="tab-budget"):
        c.gauges = gr.HTML(elem_id="gauges")
        c.spend = gr.LinePlot(
            x="time", y="spent USD", title="Spend this session", height=200, elem_id="spend"
        )
        with gr.Accordion("Change the budgets", open=False), gr.Row():
            c.usd = gr.Number(label="Expense budget (USD)", minimum=0, elem_id="budget-usd")
            c.gib = gr.Number(label="Resource budget (GiB)", minimum=0)
            c.save_budget = gr.Button("Save", elem_id="save-budget")
        c.ledger = gr.Dataframe(
            headers=panels.LEDGER_COLUMNS, interactive=False, label="Ledger", max_height=260
        )


def _tools_tab(c: Controls) -> None:
    with gr.Tab("Tools", elem_id="tab-tools"):
        c.tools = gr.Dataframe(
            headers=panels.TOOL_COLUMNS,
            interactive=False,
            elem_id="tools",
            wrap=True,
            max_height=1200,  # every tool at once: a list to read, not to scroll
            column_widths=["26%", "17%", "7%", "15%", "35%"],
        )
        with gr.Row():
            c.tool_choice = gr.Dropdown(label="Tool", choices=[], scale=3)
            c.enable_tool = gr.Button("Enable", size="sm")
            c.disable_tool = gr.Button("Disable", size="sm")
            c.delete_tool = gr.Button("Delete", size="sm", variant="stop")
        c.tool_code = gr.Code(language="python", interactive=False, label="Code")


def _memory_tab(c: Controls) -> None:
    with gr.Tab("Memory", elem_id="tab-memory"):
        with gr.Row():
            c.memory_query = gr.Textbox(label="Search memories", scale=4)
            c.memory_search = gr.Button("Search", scale=1)
        c.memories = gr.Dataframe(
            headers=panels.MEMORY_COLUMNS, interactive=False, wrap=True, elem_id="memories"
        )
        with gr.Row():
            c.memory_id = gr.Dropdown(label="Memory", choices=[], scale=3)
            c.forget = gr.Button("Delete", variant="stop", scale=1)


def _settings_tab(c: Controls) -> None:
    with gr.Tab("Settings", elem_id="tab-settings"):
        c.ceo_model = gr.Dropdown(
            label="CEO model", choices=[], allow_custom_value=True, elem_id="ceo-model"
        )
        c.modes = gr.CheckboxGroup(
            label="Switches",
            choices=[(label, mode) for mode, label in MODE_LABELS.items()],
            elem_id="modes",
        )
        with gr.Row():
            c.max_steps = gr.Slider(1, 60, step=1, label="Step cap")
            c.max_seconds = gr.Number(label="Time cap (s)", minimum=1)


# --- wiring -------------------------------------------------------------------------------


def _pick(c: Controls, values: dict[str, Any]) -> dict[gr.components.Component, Any]:
    return {c[name]: value for name, value in values.items()}


def _message_box(running: bool) -> gr.MultimodalTextbox:
    """Emptied and locked while a turn runs (its stop button still works), then free again.

    The stop button stays in place: swapping it for the submit button by updates left it
    missing in one of our CI runs, and a turn that cannot be stopped is worse than a button.
    """
    if running:
        return gr.MultimodalTextbox(value=None, interactive=False)
    return gr.MultimodalTextbox(interactive=True)


def _outputs(c: Controls, names: tuple[str, ...]) -> list[gr.components.Component]:
    return [c[name] for name in names]


def _wire_chat(app: App, c: Controls) -> None:
    chat_outputs = [c.chatbot, c.message, c.approval, c.approval_text, c.approval_code]
    outputs = {*chat_outputs, *_outputs(c, COMPANY_PANELS)}

    def take(message: dict[str, Any] | None) -> tuple[gr.MultimodalTextbox, Any]:
        """Empty and lock the box at once, in a step of its own (a generator's first update
        was seen to arrive too late), and hand the message on to `chat`."""
        return _message_box(running=True), message

    async def chat(message: dict[str, Any] | None, request: gr.Request):
        session = app.session(request)
        text = ((message or {}).get("text") or "").strip()
        files = (message or {}).get("files") or []
        if session.running or not (text or files):
            yield {c.message: _message_box(running=False)}
            return
        # Gradio streams a generator's updates as diffs, and a component skipped after it was
        # set, in a tab not opened yet, is left broken (an empty table, a plot's JS error) when
        # the tab opens. So once set, the panels go with every update: unchanged, no bytes.
        panels_now: dict[Any, Any] = {}
        async for update in run_turn(session, text, files):
            shown: dict[Any, Any] = {c.chatbot: update.transcript.messages}
            if update.approval:
                session.pending = update.approval.decision
                shown |= _approval_prompt(c, update.approval.request)
            if update.done or isinstance(update.event, PANEL_EVENTS):
                panels_now = _pick(c, app.company(session))
                shown[c.fire_choices] = panels_now.pop(c.fire_choices)  # keep the person's pick
            yield shown | panels_now
        yield {c.message: _message_box(running=False)} | panels_now

    taken = gr.State()
    send = c.message.submit(take, [c.message], [c.message, taken], **QUIET).then(
        chat, [taken], outputs, concurrency_limit=None, **PRIVATE
    )

    def tools_after(request: gr.Request) -> dict:  # the turn may have made or deleted a tool
        return _pick(c, app.tools(app.session(request)))

    send.then(tools_after, None, [c.tools, c.tool_choice], **QUIET)

    async def stopped(request: gr.Request) -> dict:
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

    def decide(approved: bool):
        async def handler(request: gr.Request) -> dict:  # on the loop that awaits the future
            session = app.session(request)
            if session.pending is not None and not session.pending.done():
                session.pending.set_result(approved)
            session.pending = None
            return {c.approval: gr.Group(visible=False)}

        return handler

    c.approve.click(decide(True), None, [c.approval], **QUIET)
    c.reject.click(decide(False), None, [c.approval], **QUIET)

    def new_chat(request: gr.Request) -> list:
        app.session(request).reset()
        return []

    c.new_chat.click(new_chat, None, [c.chatbot], **QUIET)


def _approval_prompt(c: Controls, request: Any) -> dict:
    network = " It asks for **network access**." if request.needs_network else ""
    return {
        c.approval: gr.Group(visible=True),
        c.approval_text: f"The CEO wrote a tool **{request.name}**: {request.description}."
        f"{network} Enable it?",
        c.approval_code: request.code,
    }


def _wire_team(app: App, c: Controls) -> None:
    outputs = _outputs(c, COMPANY_PANELS)

    async def fire(name: str | None, request: gr.Request) -> dict:
        session = app.session(request)
        if name:
            _attempt(session.hashiru.company.fire, "", name)
        return _pick(c, app.company(session))

    async def hire(name, model, prompt, description, request: gr.Request) -> dict:
        session = app.session(request)
        company = session.hashiru.company
        try:
            await company.hire("", (name or "").strip(), model or "", prompt or "", description)
            gr.Info(f"Hired {name}.")
        except HashiruError as exc:
            gr.Warning(str(exc))
        return _pick(c, app.company(session))

    c.fire.click(fire, [c.fire_choices], outputs, **QUIET)
    hiring = [c.hire_name, c.hire_model, c.hire_prompt, c.hire_description]
    c.hire.click(hire, hiring, outputs, **QUIET)


def _wire_budget(app: App, c: Controls) -> None:
    def save(usd: float | None, memory: float | None, request: gr.Request) -> dict:
        session = app.session(request)
        try:
            session.hashiru.ledger.set_budget(
                usd=None if usd is None else Decimal(str(usd)),
                memory_bytes=None if memory is None else int(Decimal(str(memory)) * GIB),
            )
            gr.Info("Budgets saved.")
        except (HashiruError, ValueError, InvalidOperation) as exc:
            gr.Warning(str(exc))
        return _pick(c, app.budget(session))

    c.save_budget.click(save, [c.usd, c.gib], [c.gauges, c.ledger, c.spend], **QUIET)


def _wire_tools(app: App, c: Controls) -> None:
    def show(name: str | None, request: gr.Request) -> gr.Code:
        if not name:
            return gr.Code(value="")
        code, language = panels.tool_source(app.session(request).hashiru, name)
        return gr.Code(value=code, language=language)

    def change(action: str):
        def handler(name: str | None, request: gr.Request) -> dict:
            session = app.session(request)
            registry = session.hashiru.toolsmith.registry
            if name and action == "delete":
                _attempt(registry.delete, name)
            elif name:
                enable = action == "enable"  # enabling is the person's approval
                _attempt(registry.update, name, enabled=enable, approved=True if enable else None)
            return _pick(c, app.tools(session))

        return handler

    c.tool_choice.change(show, [c.tool_choice], [c.tool_code], **QUIET)
    for button, action in (
        (c.enable_tool, "enable"),
        (c.disable_tool, "disable"),
        (c.delete_tool, "delete"),
    ):
        button.click(change(action), [c.tool_choice], [c.tools, c.tool_choice], **QUIET)


def _wire_memory(app: App, c: Controls) -> Callable:
    """Wire the memory tab; returns its search, which also fills the tab when a page opens."""

    async def search(query: str, request: gr.Request) -> dict:
        session = app.session(request)
        if not session.hashiru.settings.enable_memory:
            return {c.memories: [], c.memory_id: gr.Dropdown(choices=[])}
        rows = await asyncio.to_thread(panels.memory_rows, session.hashiru, query or "")
        return {c.memories: rows, c.memory_id: gr.Dropdown(choices=[r[0] for r in rows])}

    async def forget(memory_id: str | None, query: str, request: gr.Request) -> dict:
        if memory_id:
            _attempt(app.session(request).hashiru.memory.delete, memory_id)
        return await search(query, request)

    outputs = [c.memories, c.memory_id]
    c.memory_search.click(search, [c.memory_query], outputs, **QUIET)
    c.memory_query.submit(search, [c.memory_query], outputs, **QUIET)
    c.forget.click(forget, [c.memory_id, c.memory_query], outputs, **QUIET)
    return search


def _wire_settings(app: App, c: Controls) -> None:
    def configure(name: str):
        def handler(value: Any, request: gr.Request) -> dict:
            session = app.session(request)
            _attempt(session.configure, **{name: value or None})
            return _pick(c, app.tools(session)) | {c[name]: getattr(session.hashiru.settings, name)}

        return handler

    def set_modes(modes: list[str], request: gr.Request) -> dict:
        session = app.session(request)
        _attempt(session.set_modes, modes or [])
        return _pick(c, app.tools(session)) | {c.modes: session.modes()}

    tool_outputs = [c.tools, c.tool_choice]
    c.modes.input(set_modes, [c.modes], [*tool_outputs, c.modes], **QUIET)
    for name in ("ceo_model", "max_steps", "max_seconds"):
        c[name].input(configure(name), [c[name]], [*tool_outputs, c[name]], **QUIET)


def _wire_refresh(app: App, c: Controls, blocks: gr.Blocks, search_memories: Callable) -> None:
    """Fill the page for a new session, keep shared panels fresh, forget closed sessions."""

    async def opened(request: gr.Request) -> dict:
        session = app.session(request)
        settings = session.hashiru.settings
        models = [
            m.ref for s in await survey(session.hashiru.providers) if s.available for m in s.models
        ]
        try:
            ceo = await session.hashiru.ceo_model()  # what a turn would use, as doctor says
        except ConfigError:
            ceo = None
        state = session.hashiru.ledger.state()
        return _pick(c, app.company(session) | app.tools(session)) | {
            c.chatbot: session.chat,
            c.modes: session.modes(),
            c.ceo_model: gr.Dropdown(choices=models, value=ceo),
            c.hire_model: gr.Dropdown(choices=models),
            c.max_steps: settings.max_steps,
            c.max_seconds: settings.max_seconds,
            c.usd: float(state.usd_total),
            c.gib: float(gib(state.memory_total_bytes)),
        }

    def tick(request: gr.Request) -> dict:
        session = app.session(request)
        if session.running:  # the chat handler refreshes the panels itself
            return gr.skip()
        return _pick(c, app.company(session))

    everything = [
        *_outputs(c, COMPANY_PANELS), c.tools, c.tool_choice, c.chatbot, c.modes,
        c.ceo_model, c.hire_model, c.max_steps, c.max_seconds, c.usd, c.gib,
    ]  # fmt: skip
    blocks.load(opened, None, everything, **QUIET)
    blocks.load(search_memories, [c.memory_query], [c.memories, c.memory_id], **QUIET)
    timer = gr.Timer(REFRESH_SECONDS)
    timer.tick(tick, None, _outputs(c, COMPANY_PANELS), **QUIET)

    def closed(request: gr.Request) -> None:
        app.sessions.drop(request.session_hash)

    blocks.unload(closed)


def _attempt(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Do a panel's action; a HashiruError becomes a warning toast, and the app goes on."""
    try:
        return action(*args, **kwargs)
    except HashiruError as exc:
        gr.Warning(str(exc))
        return None
