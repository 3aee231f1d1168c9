"""A run's typed events folded into Gradio chat messages: pure, so it is tested without a browser.

The CEO's text streams into a plain assistant message; every tool call is a collapsible step
(pending, then done or failed, with its arguments, result and cost); recalled memories are a
step of their own; a failed run ends with a readable error, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hashiru import display
from hashiru.agents.events import (
    Answer,
    Event,
    MemoriesRecalled,
    RunFailed,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)

ChatItem = dict[str, Any]
"""One Gradio chat message: role, content and, for a step, metadata."""

RESULT_LIMIT = 4000


class Transcript:
    """The chat messages of one conversation, updated one event at a time."""

    def __init__(self, messages: list[ChatItem] | None = None) -> None:
        self.messages: list[ChatItem] = [dict(m) for m in messages or []]
        self._open_text: ChatItem | None = None  # the message the CEO's text streams into
        self._step_text = ""  # what the CEO said in its latest step
        self._steps: dict[str, ChatItem] = {}

    def user(self, text: str, files: Sequence[str] = ()) -> None:
        attached = "".join(f"\n\n*attached:* `{name}`" for name in files)
        self.messages.append({"role": "user", "content": text + attached})
        self._open_text, self._step_text = None, ""

    def apply(self, event: Event) -> None:
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
        elif isinstance(event, RunFailed):
            self.error(event.message)

    def error(self, message: str) -> None:
        self._open_text = None
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
    return f"```json\n{view.text}\n```"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
