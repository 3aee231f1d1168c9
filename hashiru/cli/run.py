"""`hashiru run`: one task, headless, its events printed as they happen.

Every run is a turn of a saved conversation (a new one, or the one `--continue` names); the
pieces a chat shares with it (which conversation, which policy, the event printer) live here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.prompt import Confirm
from rich.syntax import Syntax

from hashiru import display
from hashiru.agents.events import (
    AgentFired,
    AgentHired,
    ContextCompacted,
    Event,
    ModelPulling,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from hashiru.agents.toolsmith import Approver, ToolRequest, refuse_all
from hashiru.cli.output import console, errors
from hashiru.cli.parser import LATEST
from hashiru.conversations import Conversation
from hashiru.errors import ConversationError, HashiruError
from hashiru.runtime import Hashiru, RunResult
from hashiru.settings import RunPolicy


async def run_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    conversation = await conversation_for(hashiru, args.conversation)
    on_event = None if args.json else EventPrinter()
    try:
        result = await hashiru.run(
            args.task,
            on_event=on_event,
            approve=approver(args.yes),
            policy=policy_for(hashiru, conversation, args),
            conversation=conversation,
        )
    except HashiruError as exc:
        if args.trace:
            await write_trace(hashiru, getattr(exc, "trace_id", None), args.trace)
        raise
    if args.trace:
        await write_trace(hashiru, result.trace_id, args.trace)
    if tape := args.record or args.replay_new:
        await save_cassette(hashiru, result, tape)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        console.print()
        line = f"{summary(result)} · {_continue_hint(result)}"
        console.print(f"[dim]{escape(line)}[/]", soft_wrap=True)
    return 0 if result.answer.strip() else 1


async def write_trace(hashiru: Hashiru, trace_id: str | None, path: Path) -> None:
    """The run's spans, oldest first, as the OpenTelemetry SDK writes each in JSON."""
    assert hashiru.tracing is not None  # --trace turns tracing on
    spans = hashiru.tracing.spans(trace_id) if trace_id else []
    text = json.dumps({"trace_id": trace_id, "spans": spans}, indent=2)
    await asyncio.to_thread(path.write_text, text, encoding="utf-8")
    errors.print(f"[dim]{len(spans)} spans written to {escape(str(path))}[/]")


async def save_cassette(hashiru: Hashiru, result: RunResult, path: Path) -> None:
    """The recorded calls, with the CEO model the run used (a replay runs on it)."""
    cassette = hashiru.providers.cassette
    assert cassette is not None  # --record made one
    cassette.settings["ceo_model"] = result.ceo_model
    await asyncio.to_thread(cassette.save, path)
    calls = len(cassette.calls)
    errors.print(f"[dim]{calls} model calls recorded in {escape(str(path))}[/]")


async def conversation_for(hashiru: Hashiru, ref: str | None) -> Conversation:
    """The conversation a run or chat is a turn of: a new one (None), the latest (LATEST),
    or the saved one `ref` names (an id or a unique prefix of one)."""
    store = hashiru.conversations
    if ref is None:
        return store.new(source="cli")
    if ref != LATEST:
        return await asyncio.to_thread(store.get, ref)
    latest = await asyncio.to_thread(store.latest)
    if latest is None:
        raise ConversationError(
            "There is no conversation to continue yet; `hashiru run TASK` starts one."
        )
    return latest


def policy_for(hashiru: Hashiru, conversation: Conversation, args: argparse.Namespace) -> RunPolicy:
    """The conversation's stored policy (else the workspace's) with the flags given on top."""
    flags = {
        "ceo_model": args.ceo,
        "max_steps": args.max_steps,
        "max_seconds": args.max_seconds,
        "max_usd": args.budget_usd,
    }
    base = conversation.policy or hashiru.policy
    return base.updated(**{k: v for k, v in flags.items() if v is not None})


def approver(yes: bool) -> Approver:
    """--yes approves new tools, MCP calls and model downloads; a terminal asks; anything else
    refuses (enable generated tools later; an MCP server's `approval = "never"` lets its calls
    run unasked; `ollama_pull = "always"` pulls unasked)."""

    async def approve_all(request: ToolRequest) -> bool:
        return True

    async def ask(request: ToolRequest) -> bool:
        errors.print(f"\n{_asked(request)}")
        if request.pull_host is None:  # a pull's description is all there is to read
            text, language = request.shown
            errors.print(Syntax(text, language, line_numbers=request.server is None))
        question = escape(request.question)
        return await asyncio.to_thread(Confirm.ask, question, console=errors, default=False)

    if yes:
        return approve_all
    return ask if sys.stdin.isatty() else refuse_all


def _asked(request: ToolRequest) -> str:
    """Who wants what, before the question: a tool written, an MCP call, a model download."""
    about = escape(request.description)
    if request.pull_host is not None:
        model, host = escape(request.name), escape(request.pull_host)
        return f"The CEO wants to download [bold]{model}[/] to [bold]{host}[/]. {about}"
    if request.server is None:
        network = " [bold red]with network access[/]" if request.needs_network else ""
        return f"The CEO wrote a tool [bold]{request.name}[/]{network}: {about}"
    server = escape(request.server)
    return f"The CEO wants to call [bold]{request.name}[/] ({about}) on MCP server {server}:"


class EventPrinter:
    """Renders a run as it happens: the CEO's text, then each tool call as it starts and ends,
    and a model's download as a progress bar on stderr."""

    def __init__(self) -> None:
        self._at_line_start = True
        self._pulls: Progress | None = None  # the bars of the downloads under way
        self._pull_tasks: dict[tuple[str, str], TaskID] = {}  # by (model, host)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ModelPulling):
            self._end_text()
            self._pulled(event)
            return
        self.end_pulls()
        if isinstance(event, TextDelta):
            console.print(escape(event.text), end="")
            self._at_line_start = event.text.endswith("\n")
            return
        self.end_line()
        if isinstance(event, ToolCallStarted):
            console.print(
                f"[cyan]→ {event.name}[/]([dim]{escape(display.brief(event.arguments))}[/])"
            )
        elif isinstance(event, ToolCallFinished):
            mark = "[green]✓[/]" if event.ok else "[red]✗[/]"
            console.print(f"{mark} {event.name} [dim]{event.seconds:.2f}s[/]")
            text = escape(display.tool_result(event).text)
            console.print(Padding(text, (0, 0, 0, 2), expand=False), style="dim")
        elif isinstance(event, AgentHired):
            console.print(f"[magenta]+ hired {event.name}[/] on {event.model}")
        elif isinstance(event, AgentFired):
            console.print(f"[magenta]- fired {event.name}[/] ({event.model})")
        elif isinstance(event, ContextCompacted):
            console.print(f"[yellow]⇲ {escape(display.compaction(event))}[/]: {escape(event.how)}")

    def end_line(self) -> None:
        """End the line the CEO's text left open, and any download's bar (before a step, or
        when a turn stops)."""
        self.end_pulls()
        self._end_text()

    def _end_text(self) -> None:
        if not self._at_line_start:
            console.print()
            self._at_line_start = True

    def end_pulls(self) -> None:
        """Leave the download bars as they last were: the pull ended, or failed (the hire's
        result says why), or the turn stopped."""
        if self._pulls is not None:
            self._pulls.stop()
            self._pulls = None
            self._pull_tasks.clear()

    def _pulled(self, event: ModelPulling) -> None:
        """A download's title on a line of its own as it starts, then its bar, labelled with
        the model, kept up to date: a URL and a bar do not both fit 80 columns."""
        view = display.pull_view(event)
        if self._pulls is None:
            self._pulls = Progress(
                TextColumn("  {task.description}"),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[detail]}", style="dim"),
                console=errors,
            )
            self._pulls.start()
        key = (event.model, event.host)
        if key not in self._pull_tasks:
            self._pulls.console.print(f"[magenta]⬇ {escape(view.title)}[/]", soft_wrap=True)
            self._pull_tasks[key] = self._pulls.add_task(escape(event.model), total=100, detail="")
        task = self._pull_tasks[key]
        self._pulls.update(task, completed=view.percent, detail=escape(view.detail))
        if view.done and self._pulls.finished:
            self.end_pulls()


def summary(result: RunResult) -> str:
    """One line of what a run did and cost."""
    return (
        f"{result.ceo_model} · {_count(result.steps, 'step')} · "
        f"{_count(len(result.tool_calls), 'tool call')} · "
        f"{result.usage.input_tokens:,} in / {result.usage.output_tokens:,} out tokens · "
        f"${display.usd(result.cost.expense_usd)} · {result.seconds:.1f} s · run {result.run_id}"
    )


def _continue_hint(result: RunResult) -> str:
    ref = result.conversation_id
    return f'conversation {ref}: continue it with `hashiru run "..." --continue {ref}`'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
