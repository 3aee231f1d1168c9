"""Stores filled with many conversations, fast: a thousand turns take well under a second."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hashiru.conversations import Conversation, ConversationStore, Turn
from hashiru.messages import Message
from tests.agents.conftest import make_hashiru  # noqa: F401 (a fixture for runs here)


def turns(count: int, start: int = 1, words: str = "") -> list[Turn]:
    """`count` finished turns, each a question and its answer, like a run would save."""
    made = []
    for n in range(start, start + count):
        task, answer = f"question {n} {words}".strip(), f"answer {n}"
        messages = [Message.user(task), Message.assistant(answer)]
        if n == 1:
            messages.insert(0, Message.system("You are the CEO."))
        events = [{"kind": "text_delta", "text": answer}, {"kind": "answer", "text": answer}]
        made.append(
            Turn(run_id=f"run{n:08x}", task=task, messages=messages, events=events, answer=answer)
        )
    return made


def seed(store: ConversationStore, conversations: int, turns_each: int = 1) -> list[Conversation]:
    """`conversations` saved conversations of `turns_each` turns, oldest first."""
    made = []
    for n in range(conversations):
        conversation = store.new(source="cli")
        conversation.title = f"conversation {n}"
        store.save_turns(conversation, turns(turns_each, words=f"topic{n}"))
        made.append(conversation)
    return made


def bulk_seed(store: ConversationStore, count: int) -> None:
    """`count` one-turn conversations in one transaction: the store's own rows, fast."""
    turn = turns(1)[0]
    body = turn.model_dump_json()
    db = sqlite3.connect(store.path)
    at = turn.at.isoformat()
    with db:
        db.executemany(
            "INSERT INTO conversations (id, title, source, created_at, updated_at, turn_count) "
            "VALUES (?, ?, 'cli', ?, ?, 1)",
            [(f"{n:012x}", f"bulk {n}", at, at) for n in range(count)],
        )
        db.executemany(
            "INSERT INTO turns (conversation_id, number, run_id, body) VALUES (?, 1, 'r', ?)",
            [(f"{n:012x}", body) for n in range(count)],
        )


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(tmp_path / "conversations.sqlite")
