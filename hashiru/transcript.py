"""A run's typed events folded into chat messages: pure, so it is tested without a browser.

The CEO's text streams into a plain assistant message; every tool call is a collapsible step
(pending, then done or failed, with its arguments, result and cost); recalled memories are a
step of their own; a failed run ends with a readable error, never a stack trace.

The app shows these messages live, and a saved conversation is redrawn from its turns' events
the same way (`redraw`), so the app, `hashiru conversations show` and the Markdown export
(`markdown`) all show what the chat showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from hashiru import display
from hashiru.agents.events import (
    Answer,
    ContextCompacted,
    Event,
    MemoriesRecalled,
    ModelPulling,
    RunFailed,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    from_record,
)
from hashiru.conversations import Conversation, Turn

ChatItem = dict[str, Any]
"""One Gradio chat message: role, content and, for a step, metadata."""

RESULT_LIMIT = 4000
WHERE = {"app": "the app", "api": "the API", "cli": "the terminal", "mcp": "an MCP client"}


class Transcript:
    """The chat messages of one conversation, updated one event at a time."""

    def __init__(self, messages: list[ChatItem] | None = None) -> None:
        self.messages: list[ChatItem] = [dict(m) for m in messages or []]
        self._open_text: ChatItem | None = None  # the message the CEO's text streams into
        self._step_text = ""  # what the CEO said in its latest step
        self._steps: dict[str, ChatItem] = {}
        self._pulls: dict[tuple[str, str], ChatItem] = {}  # downloads under way: (model, host)

    def user(self, text: str, files: Sequence[str] = ()) -> None:
        attached = "".join(f"\n\n*attached:* `{name}`" for name in files)
        self.messages.append({"role": "user", "content": text + attached})
        self._open_text, self._step_text = None, ""

    def apply(self, event: Event) -> None:
        if isinstance(event, ModelPulling):
            self._pull(event)
            return
        self._end_pulls()
        if isinstance(event, TextDelta):
            self._stream(event.text)
        elif isinstance(event, StepFinished):
            self._open_text = None
        elif isinstance(event, ToolCallStarted):
            self._open_text, self._step_text = None, ""
            self._steps[event.call_id] = self._step(
                f"⚙ {_call_title(event.name, event.arguments)}",
                _arguments(event.arguments),
                status="pending",
                id=event.call_id,
            )
        elif isinstance(event, ToolCallFinished):
            self._finish(event)
        elif isinstance(event, MemoriesRecalled):
            lines = [
                f"- {m['text']} *({m['kind']}, {m['similarity']:.2f})*" for m in event.memories
            ]
            self._step(f"◆ Recalled {_count(len(lines), 'memory', 'memories')}", "\n".join(lines))
        elif isinstance(event, Answer):
            if event.text.strip() and event.text.strip() != self._step_text.strip():
                self.messages.append({"role": "assistant", "content": event.text})
        elif isinstance(event, ContextCompacted):
            self._open_text = None
            self._step(f"⇲ {display.compaction(event)}", event.how)
        elif isinstance(event, RunFailed):
            self.error(event.message)

    def turn(self, turn: Turn) -> None:
        """Redraw a saved turn: the person's message, then what its run showed."""
        self.user(turn.task, turn.attachments)
        if not turn.events and turn.answer:  # said before the conversation was saved
            self.messages.append({"role": "assistant", "content": turn.answer})
        for record in turn.events:
            try:
                self.apply(from_record(record))
            except ValidationError:
                self.error("A step of this turn was saved damaged and cannot be shown.")
                return
        self._steps.clear()
        self._end_pulls()

    def error(self, message: str) -> None:
        self._open_text = None
        self._end_pulls()
        for step in self._steps.values():  # calls the run left unfinished: no spinner forever
            step["metadata"] = {**step["metadata"], "status": "done"}
        self._steps.clear()
        self.messages.append({"role": "assistant", "content": f"⚠ **{message}**"})

    def _stream(self, text: str) -> None:
        if self._open_text is None:
            self._open_text = {"role": "assistant", "content": ""}
            self.messages.append(self._open_text)
            self._step_text = ""
        self._open_text["content"] += text
        self._step_text += text

    def _step(self, title: str, content: str, **metadata: Any) -> ChatItem:
        item = {
            "role": "assistant",
            "content": content,
            "metadata": {"title": title, "status": "done", **metadata},
        }
        self.messages.append(item)
        return item

    def _pull(self, event: ModelPulling) -> None:
        """A download is one step, redrawn as it goes: a bar and how far (spinning until done)."""
        view = display.pull_view(event)
        key = (event.model, event.host)
        if key not in self._pulls:
            self._open_text = None
            self._pulls[key] = self._step("", "", status="pending")
        item = self._pulls[key]
        status = "done" if view.done else "pending"
        item["metadata"] = {**item["metadata"], "title": f"⬇ {view.title}", "status": status}
        item["content"] = f"`{display.bar(view.percent)}` {view.detail}"
        if view.done:
            del self._pulls[key]

    def _end_pulls(self) -> None:
        """Stop the spinners of the downloads shown: each ended (or failed, which the hire's
        result says) once the run moved on."""
        for item in self._pulls.values():
            item["metadata"] = {**item["metadata"], "status": "done"}
        self._pulls.clear()

    def _finish(self, event: ToolCallFinished) -> None:
        item = self._steps.pop(event.call_id, None) or self._step("", "")
        mark = "✓" if event.ok else "✗"
        metadata = {
            "title": f"{mark} {_call_title(event.name, event.arguments)}",
            "status": "done",
            "duration": round(event.seconds, 2),
        }
        cost = display.tool_cost(event)
        if cost:  # a local model's cost can be "0E-16": nothing to show
            metadata["log"] = f"${cost:.4f}"  # as the team and budget panels show money
        item["metadata"] = {**item["metadata"], **metadata}
        item["content"] = f"{_arguments(event.arguments)}\n\n{_result(event)}"


def _call_title(name: str, arguments: dict[str, Any]) -> str:
    """`ask_agent → poet`: the tool, and whom or what it acts on when that is short."""
    target = arguments.get("name")
    return f"{name} → {target}" if isinstance(target, str) and len(target) <= 40 else name


def _arguments(arguments: dict[str, Any]) -> str:
    if not arguments:
        return "*no arguments*"
    return f"```json\n{display.as_json(arguments, indent=2)}\n```"


def _result(event: ToolCallFinished) -> str:
    """An employee's answer or an error as prose; any other result as JSON."""
    view = display.tool_result(event, limit=RESULT_LIMIT, indent=2)
    if view.kind == "answer":
        return f"**{view.agent}:** {display.clip(view.text, RESULT_LIMIT)}"
    if view.kind == "error":
        return f"**Error:** {display.clip(view.text, RESULT_LIMIT)}"
    return f"```{'json' if view.kind == 'value' else 'text'}\n{view.text}\n```"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def redraw(conversation: Conversation, last: int | None = None) -> Transcript:
    """The chat of a saved conversation, as it was shown: every turn, or its `last` turns
    after a line that says how many earlier ones are not drawn."""
    transcript = Transcript()
    turns = conversation.turns if last is None else conversation.turns[-last:]
    if hidden := len(conversation.turns) - len(turns):
        transcript.messages.append(
            {
                "role": "assistant",
                "content": f"*{_count(hidden, 'earlier turn', 'earlier turns')} not drawn here "
                "(the CEO has them all): `hashiru conversations show "
                f"{conversation.id}` prints the whole conversation.*",
            }
        )
    for turn in turns:
        transcript.turn(turn)
    return transcript


def markdown(
    conversation: Conversation, spent_usd: Decimal | None = None, header: bool = True
) -> str:
    """A saved conversation as Markdown a person can read: its title and facts (unless not
    `header`), then each message under its speaker, each step quoted under its title."""
    when = conversation.created_at.strftime("%Y-%m-%d %H:%M UTC")
    facts = [f"`{conversation.id}`", f"started {when} in {WHERE[conversation.source]}"]
    facts.append(_count(len(conversation.turns), "turn", "turns"))
    if spent_usd is not None:
        facts.append(f"${display.usd(spent_usd)} spent")
    lines = [f"# {conversation.title or 'Untitled'}", "", " · ".join(facts), ""] if header else []
    speaker = None
    for item in redraw(conversation).messages:
        title = (item.get("metadata") or {}).get("title")
        role = "You" if item["role"] == "user" else "HASHIRU"
        if role != speaker:
            lines += [f"## {role}", ""]
            speaker = role
        if title:
            cost = item["metadata"].get("log")
            lines += [f"> **{title}**" + (f" · {cost}" if cost else ""), ">"]
            lines += [f"> {line}".rstrip() for line in str(item["content"]).splitlines()]
        else:
            lines.append(str(item["content"]))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
