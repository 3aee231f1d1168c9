"""The page's components and where they sit, with no behaviour: `wiring` gives them handlers.

Kept apart so the page can be read (and rearranged) as a layout, and so every component a
handler touches is a typed field of `Controls` rather than a name looked up at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from hashiru import display
from hashiru.ui import panels
from hashiru.ui.session import MODE_LABELS

CSS = """
.hashiru-gauges { display: grid; gap: 0.75rem; }
.hashiru-gauge .bar { display: flex; height: 0.8rem; border-radius: 0.4rem; overflow: hidden;
  background: var(--neutral-200); margin: 0.3rem 0; }
.hashiru-gauge .bar span { display: block; height: 100%; }
#hashiru-header { margin-bottom: 0; }
#conversations { font-size: 0.85em; }
#scorecard [role=gridcell], #scorecard [role=columnheader] { font-size: 12px; }
#scorecard-note { font-size: 0.8em; opacity: 0.8; }
.hashiru-waterfall { display: grid; grid-template-columns: minmax(7rem, 1.2fr) minmax(6rem, 1fr)
  auto auto auto; gap: 0.15rem 0.5rem; align-items: center; font-size: 12px; margin: 0.3rem 0;
  max-height: 420px; overflow-y: auto; }
.hashiru-waterfall .head, .hashiru-waterfall .row { display: contents; }
.hashiru-waterfall .head b { font-weight: 600; color: var(--body-text-color-subdued);
  white-space: nowrap; }
.hashiru-waterfall .who { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.hashiru-waterfall .track { position: relative; height: 0.7rem; border-radius: 0.2rem;
  background: var(--background-fill-secondary); }
.hashiru-waterfall .bar { position: absolute; top: 0; height: 100%; min-width: 2px;
  border-radius: 0.2rem; }
.hashiru-waterfall .num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.hashiru-waterfall .marks { grid-column: 1 / -1; font-size: 11px; margin-top: -0.1rem;
  color: var(--body-text-color-subdued); }
.hashiru-waterfall [data-failed] .who { color: #ef4444; }
"""


def theme() -> gr.themes.Base:
    """A clean theme with system fonts: nothing is fetched from a font service."""
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


@dataclass(init=False)
class Controls:
    """Every component a handler reads or updates; `layout` sets each one as it places it."""

    # the saved conversations
    stored: gr.BrowserState  # the open conversation's id, kept by the browser across reloads
    new_chat: gr.Button
    conversation_query: gr.Textbox
    conversations: gr.Dataframe
    conversations_count: gr.Markdown
    more_conversations: gr.Button
    conversation_about: gr.Markdown
    conversation_title: gr.Textbox
    rename: gr.Button
    delete_conversation: gr.Button
    # the conversation
    approval: gr.Group
    approval_text: gr.Markdown
    approval_code: gr.Code
    approve: gr.Button
    reject: gr.Button
    chatbot: gr.Chatbot
    message: gr.MultimodalTextbox
    trace: gr.HTML  # the latest turn's waterfall, or a line saying why there is none
    # the team
    team: gr.Dataframe
    fire_choices: gr.Dropdown
    fire: gr.Button
    hire_name: gr.Textbox
    hire_model: gr.Dropdown
    hire_prompt: gr.Textbox
    hire_description: gr.Textbox
    hire: gr.Button
    score_kind: gr.Dropdown
    scorecard: gr.Dataframe
    # the budget
    gauges: gr.HTML
    spend: gr.LinePlot
    usd: gr.Number
    gib: gr.Number
    save_budget: gr.Button
    ledger: gr.Dataframe
    # the tools
    tools: gr.Dataframe
    tool_choice: gr.Dropdown
    enable_tool: gr.Button
    disable_tool: gr.Button
    delete_tool: gr.Button
    tool_code: gr.Code
    mcp_note: gr.Markdown
    mcp_tools: gr.Dataframe
    mcp_check: gr.Button
    # the memory
    memory_query: gr.Textbox
    memory_search: gr.Button
    memories: gr.Dataframe
    memory_id: gr.Dropdown
    forget: gr.Button
    # the session's settings
    ceo_model: gr.Dropdown
    modes: gr.CheckboxGroup
    max_steps: gr.Slider
    max_seconds: gr.Number


def layout(storage_key: str) -> Controls:
    """Place the page in the Blocks being built: the saved conversations on the left, the chat
    in the middle, the panels in tabs on the right. The browser keeps the open conversation's
    id under `storage_key`."""
    c = Controls()
    # the page gets the secret too, so it protects nothing; each handler checks the owner
    c.stored = gr.BrowserState("", storage_key=storage_key, secret=storage_key)
    gr.Markdown("## HASHIRU · your CEO agent and its team", elem_id="hashiru-header")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            _conversations_column(c)
        with gr.Column(scale=3, min_width=440):
            _chat_column(c)
        with gr.Column(scale=2, min_width=400), gr.Tabs():
            _team_tab(c)
            _budget_tab(c)
            _tools_tab(c)
            _memory_tab(c)
            _settings_tab(c)
    return c


def _conversations_column(c: Controls) -> None:
    c.new_chat = gr.Button("New conversation", variant="primary", size="sm", elem_id="new-chat")
    c.conversation_query = gr.Textbox(
        placeholder="Search conversations…",
        show_label=False,
        max_lines=1,
        elem_id="conversation-search",
    )
    c.conversations = gr.Dataframe(
        headers=panels.CONVERSATION_COLUMNS,
        interactive=False,
        wrap=True,
        max_height=520,
        column_widths=["54%", "22%", "24%"],
        buttons=[],
        elem_id="conversations",
    )
    c.conversations_count = gr.Markdown(elem_id="conversations-count")
    c.more_conversations = gr.Button(
        "Show more", size="sm", visible=False, elem_id="more-conversations"
    )
    with gr.Accordion("This conversation", open=False, elem_id="this-conversation"):
        c.conversation_about = gr.Markdown(elem_id="conversation-about")
        c.conversation_title = gr.Textbox(label="Title", max_lines=1, elem_id="conversation-title")
        with gr.Row():
            c.rename = gr.Button("Rename", size="sm", elem_id="rename")
            c.delete_conversation = gr.Button(
                "Delete", size="sm", variant="stop", elem_id="delete-conversation"
            )


def _chat_column(c: Controls) -> None:
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
    with gr.Accordion("Trace of the latest turn", open=True, elem_id="trace-panel"):
        c.trace = gr.HTML(panels.trace_note(panels.NO_TURN_YET), elem_id="trace")


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
        _scorecard(c)


def _scorecard(c: Controls) -> None:
    """Each model's record per kind of task, under the team: whom to hire next."""
    c.score_kind = gr.Dropdown(
        label="Scorecard: task kind",
        choices=panels.KIND_CHOICES,
        value=panels.ALL_KINDS,
        elem_id="score-kind",
    )
    c.scorecard = gr.Dataframe(
        headers=panels.SCORE_COLUMNS,
        interactive=False,
        show_label=False,
        wrap=True,
        column_widths=["128px", "76px", "124px", "72px", "60px", "48px", "48px", "40px", "64px"],
        buttons=["fullscreen"],
        elem_id="scorecard",
    )
    gr.Markdown(f"{display.SCORECARD_READS} {display.SCORECARD_FILLS}", elem_id="scorecard-note")


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
            max_height=2400,  # every tool at once: a list to read, not to scroll
            column_widths=["26%", "17%", "7%", "15%", "35%"],
        )
        with gr.Row():
            c.tool_choice = gr.Dropdown(label="Tool", choices=[], scale=3)
            c.enable_tool = gr.Button("Enable", size="sm")
            c.disable_tool = gr.Button("Disable", size="sm")
            c.delete_tool = gr.Button("Delete", size="sm", variant="stop")
        c.tool_code = gr.Code(language="python", interactive=False, label="Code")
        c.mcp_note = gr.Markdown("*Starting the MCP servers…*", elem_id="mcp-note")
        c.mcp_tools = gr.Dataframe(
            headers=panels.MCP_COLUMNS,
            interactive=False,
            elem_id="mcp-tools",
            wrap=True,
            max_height=1200,  # like the tools above: every row at once
            column_widths=["32%", "18%", "15%", "35%"],
        )
        c.mcp_check = gr.Button("Check the MCP servers again", size="sm")


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
