"""The values a conversation is made of: turns, the conversation, a page of the list."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from hashiru.errors import ConversationError
from hashiru.messages import Message
from hashiru.settings import RunPolicy

Source = Literal["app", "api", "cli", "mcp"]

TITLE_CHARS = 200
"""The longest title a person may give; one made from a first message is cut shorter."""
AUTO_TITLE_CHARS = 80


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Turn(BaseModel):
    """One exchange: the person's message and what the run did with it.

    `messages` is what the turn added to the CEO's context (the first turn's start with the
    system prompt; a failed turn adds nothing). `events` are the run's events as records
    (`hashiru.agents.events.to_record`), streamed text joined, so the chat can be redrawn
    exactly. A turn with no run (`run_id` "") was said before the conversation was saved: the
    history a client handed the `/chat` endpoint; it has no events, only its `answer`.
    """

    number: int = 0  # 1, 2, ...: given by the store when the turn is saved
    at: datetime = Field(default_factory=now)
    run_id: str
    task: str
    attachments: list[str] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    answer: str = ""
    ok: bool = True


class ConversationSummary(BaseModel):
    """A conversation as the list shows it; `spent_usd` is filled in from the ledger."""

    id: str
    title: str
    source: Source
    owner: str = ""  # the app's login that started it; "" without --auth, and for the CLI
    created_at: datetime
    updated_at: datetime
    turn_count: int = 0
    spent_usd: Decimal | None = None


class Conversation(BaseModel):
    """A whole conversation: its turns and the policy its latest turn ran under.

    A new conversation is not in the store until its first turn is saved (`saved` says
    whether it is), so a first turn that is stopped leaves nothing behind.
    """

    id: str = Field(default_factory=new_id)
    title: str = ""
    source: Source = "api"
    owner: str = ""
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    policy: RunPolicy | None = None  # None: a damaged or missing policy; use the workspace's
    turns: list[Turn] = Field(default_factory=list)
    saved: bool = Field(False, exclude=True)

    @property
    def messages(self) -> list[Message]:
        """The CEO's context so far, as the next turn continues it."""
        return [m for turn in self.turns for m in turn.messages]

    @property
    def run_ids(self) -> list[str]:
        """The runs of its turns, whose spend the ledger has (imported turns had none)."""
        return [turn.run_id for turn in self.turns if turn.run_id]


class ConversationPage(BaseModel):
    """One page of the list, newest first: `total` conversations match in all."""

    items: list[ConversationSummary]
    total: int
    offset: int
    limit: int

    @computed_field  # in its JSON too: whether another page follows
    @property
    def more(self) -> bool:
        return self.offset + len(self.items) < self.total


def title_from(text: str) -> str:
    """A title made from a first message: one line, printable, at most 80 characters."""
    words = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(words) > AUTO_TITLE_CHARS:
        words = words[: AUTO_TITLE_CHARS - 1].rstrip() + "…"
    return words or "Untitled"


def check_title(title: str) -> str:
    """A title a person gave, stripped; ConversationError says what is wrong with a bad one."""
    title = title.strip()
    if not title:
        raise ConversationError("A title cannot be empty.")
    if len(title) > TITLE_CHARS:
        raise ConversationError(
            f"A title has at most {TITLE_CHARS} characters; this one has {len(title):,}."
        )
    for char in title:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ConversationError(
                f"A title is one line of text; it cannot contain U+{ord(char):04X} "
                f"({unicodedata.name(char, 'a control character')})."
            )
    return title


def imported_turns(history: list[Message]) -> list[Turn]:
    """Turns (with no run) for a history said elsewhere: each user message and the replies
    after it; a leading system prompt goes with the first."""
    turns: list[Turn] = []
    waiting: list[Message] = []  # a system prompt before the first user message
    for message in history:
        if message.role == "user" or not turns:
            if message.role != "user":
                waiting.append(message)
                continue
            turns.append(Turn(run_id="", task=message.text, messages=[*waiting, message]))
            waiting = []
        else:
            turns[-1].messages.append(message)
            if message.role == "assistant" and message.text:
                turns[-1].answer = message.text
    return turns
