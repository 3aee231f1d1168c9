"""One chat turn: run the CEO in a task and yield the transcript as its events arrive.

The browser's chat handler and the `/chat` API both go through `run_turn`, which makes the run
the next turn of the session's conversation: the runtime saves it when the run ends. A stopped
turn (the stop button cancels the handler) cancels the run, which releases its holds in the
ledger and saves nothing: the conversation is as it was before the turn.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hashiru.agents.events import Event
from hashiru.agents.toolsmith import Approver, ToolRequest, refuse_all
from hashiru.errors import ConversationError, HashiruError
from hashiru.messages import Message
from hashiru.transcript import Transcript
from hashiru.ui.session import Session

log = logging.getLogger(__name__)


@dataclass
class ApprovalNeeded:
    """The CEO made a tool that needs the person's approval before it is enabled, or wants to
    call an MCP server's tool whose approval setting asks first."""

    request: ToolRequest
    decision: asyncio.Future[bool]


@dataclass
class TurnUpdate:
    """What a handler shows after each event: the chat, and whether the panels changed."""

    transcript: Transcript
    event: Event | None = None
    approval: ApprovalNeeded | None = None
    done: bool = False
    answer: str = ""
    trace_id: str | None = None  # once done: the run's trace, when tracing is on


async def run_turn(
    session: Session,
    text: str,
    files: Sequence[str] = (),
    ask_approval: bool = True,
    history: list[Message] | None = None,
) -> AsyncIterator[TurnUpdate]:
    """Run one turn of `session`'s conversation; the last update has `done` set.

    `history` (for a new conversation only) is what was said before it, elsewhere: the
    conversation keeps it as its earlier turns.
    """
    hashiru = session.hashiru
    attached = await asyncio.to_thread(place_attachments, files, hashiru.settings.workspace_dir)
    transcript = Transcript(session.chat)
    transcript.user(text, attached)
    session.chat = transcript.messages
    yield TurnUpdate(transcript)
    queue: asyncio.Queue[Event | ApprovalNeeded | None] = asyncio.Queue()
    approve = _asking(queue) if ask_approval else refuse_all
    task = asyncio.create_task(
        hashiru.run(
            text,
            on_event=queue.put_nowait,
            history=history,
            approve=approve,
            policy=session.policy,
            conversation=session.conversation,
            attachments=attached,
        )
    )
    task.add_done_callback(lambda _: queue.put_nowait(None))
    session.running = True
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, ApprovalNeeded):
                yield TurnUpdate(transcript, approval=item)
            else:
                transcript.apply(item)
                yield TurnUpdate(transcript, event=item)
        result = await task
        yield TurnUpdate(transcript, done=True, answer=result.answer, trace_id=result.trace_id)
    except ConversationError as exc:  # the turn could not be saved: deleted meanwhile
        transcript.error(str(exc))
        yield TurnUpdate(transcript, done=True, trace_id=getattr(exc, "trace_id", None))
    except HashiruError as exc:  # the run emitted RunFailed, which the transcript shows
        yield TurnUpdate(transcript, done=True, trace_id=getattr(exc, "trace_id", None))
    except Exception as exc:  # a bug: say so briefly, keep the trace for the log
        log.exception("the turn failed")
        transcript.error(f"Something went wrong in HASHIRU ({type(exc).__name__}); see its log.")
        yield TurnUpdate(transcript, done=True)
    finally:
        try:
            if not task.done():  # stopped: cancel the run, which releases its ledger holds
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                transcript.error("Stopped. The CEO's conversation is as it was before this turn.")
        finally:
            session.running = False  # last: the stop handler waits for the chat to be final


def place_attachments(files: Sequence[str], workspace: Path) -> list[str]:
    """Copy uploaded files into the workspace (never over an existing file); their new names."""
    placed = []
    if files:
        workspace.mkdir(parents=True, exist_ok=True)
    for file in files:
        source = Path(file)
        target = workspace / source.name
        n = 1
        while target.exists():
            target = workspace / f"{source.stem}-{n}{source.suffix}"
            n += 1
        shutil.copyfile(source, target)
        placed.append(target.name)
    return placed


def _asking(queue: asyncio.Queue) -> Approver:
    """An approver that puts the request in front of the person and waits for the answer."""

    async def approve(request: ToolRequest) -> bool:
        decision: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        queue.put_nowait(ApprovalNeeded(request, decision))
        return await decision

    return approve
