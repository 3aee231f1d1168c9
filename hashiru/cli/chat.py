"""`hashiru chat`: a conversation with the CEO in the terminal, one turn per line.

Each line is a turn of a saved conversation, printed as `hashiru run` prints a run. Lines are
read in a daemon thread, so a blocked read of stdin never holds up Ctrl+C or leaving. Ctrl+C
cancels the turn in flight: the runtime saves nothing of a cancelled turn, so the conversation
stays as it was, and the chat asks for the next line. At the prompt, Ctrl+C or Ctrl+D leaves.
Piped input works the same: each non-empty line is a turn, until the end of the input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Awaitable
from typing import TypeVar

from rich.markup import escape

from hashiru.agents.toolsmith import Approver
from hashiru.cli.arguments import user_path
from hashiru.cli.conversations import print_markdown
from hashiru.cli.output import console, errors
from hashiru.cli.run import EventPrinter, approver, conversation_for, policy_for, summary
from hashiru.conversations import Conversation
from hashiru.errors import HashiruError
from hashiru.runtime import Hashiru
from hashiru.settings import RunPolicy
from hashiru.transcript import markdown

EARLIER_TURNS = 3
"""How many of a continued conversation's last turns are shown before the first prompt."""
PROMPT = "you> "

T = TypeVar("T")


class Stopped(Exception):
    """Ctrl+C cancelled what the chat was waiting for."""


async def chat_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    conversation = await conversation_for(hashiru, args.conversation)
    policy = policy_for(hashiru, conversation, args)
    typing = sys.stdin.isatty()
    if conversation.saved:
        _show_earlier(conversation)
    console.print("[dim]Ctrl+C stops a turn; Ctrl+D leaves.[/]")
    status = 0
    with Interrupts() as interrupts:
        while True:
            try:
                line = await interrupts.wait(_read_line(typing))
            except Stopped:
                status = 130
                break
            if line is None:
                break
            if line.strip():
                if not typing:
                    console.print(f"[bold cyan]{PROMPT}[/]{escape(line)}")
                await _turn(hashiru, conversation, line, policy, approver(args.yes), interrupts)
    if conversation.saved:
        ref = conversation.id
        console.print(f"[dim]Conversation {ref} is saved; `hashiru chat {ref}` continues it.[/]")
    return status


async def _turn(
    hashiru: Hashiru,
    conversation: Conversation,
    task: str,
    policy: RunPolicy,
    approve: Approver,
    interrupts: Interrupts,
) -> None:
    """One turn, printed as it happens; a failure or Ctrl+C ends the turn, not the chat."""
    printer = EventPrinter()
    run = hashiru.run(
        task, on_event=printer, approve=approve, policy=policy, conversation=conversation
    )
    try:
        result = await interrupts.wait(run)
    except Stopped:
        printer.end_line()
        errors.print("[yellow]stopped:[/] the conversation is as it was before this message.")
        return
    except HashiruError as exc:  # saved as a failed turn: the CEO's context is unchanged
        printer.end_line()
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return
    printer.end_line()
    console.print(f"[dim]{escape(summary(result))}[/]\n", soft_wrap=True)


class Interrupts:
    """While entered, Ctrl+C cancels what `wait` is awaiting instead of the whole command."""

    def __init__(self) -> None:
        self._waiting: asyncio.Future | None = None
        self._stopped = False

    def __enter__(self) -> Interrupts:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """What `awaitable` gives; Stopped once Ctrl+C has cancelled it (and it has ended)."""
        self._waiting, self._stopped = asyncio.ensure_future(awaitable), False
        try:
            return await self._waiting
        except asyncio.CancelledError:
            if self._stopped:
                raise Stopped from None
            raise
        finally:
            self._waiting = None

    def _stop(self) -> None:
        # once only: a second Ctrl+C must not break off the cancelled turn's cleanup
        if self._waiting is not None and not self._waiting.done() and not self._stopped:
            self._stopped = True
            self._waiting.cancel()


async def _read_line(typing: bool) -> str | None:
    """The next line (at a prompt when a person types), or None at the end of the input."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()

    def settle(text: str | None, error: BaseException | None) -> None:
        if line.done():  # Ctrl+C gave up on this line
            return
        if error is None:
            line.set_result(text)
        else:
            line.set_exception(error)

    def read() -> None:
        text, error = None, None
        try:
            with user_path("read your message from stdin"):
                text = _next_line(typing)
        except HashiruError as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the chat has ended meanwhile
            loop.call_soon_threadsafe(settle, text, error)

    threading.Thread(target=read, name="hashiru-chat-input", daemon=True).start()
    return await line


def _next_line(typing: bool) -> str | None:
    if not typing:
        text = sys.stdin.readline()
        return text.rstrip("\r\n") if text else None
    import readline  # noqa: F401  (line editing and history for input())

    try:
        return input(PROMPT)
    except EOFError:
        console.print()
        return None


def _show_earlier(conversation: Conversation) -> None:
    """The conversation's title and last turns, so the next message has its context."""
    turns, ref = conversation.turns, conversation.id
    console.print(
        f"[bold]{escape(conversation.title)}[/] [dim]· conversation {ref} · {len(turns)} turns[/]"
    )
    if len(turns) > EARLIER_TURNS:
        console.print(
            f"[dim]… {len(turns) - EARLIER_TURNS} earlier turns "
            f"(`hashiru conversations show {ref}` prints them all)[/]"
        )
    recent = conversation.model_copy(update={"turns": turns[-EARLIER_TURNS:]})
    print_markdown(markdown(recent, header=False))  # the header above is the whole one's
    console.print()
