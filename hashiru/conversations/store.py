"""The conversation store: one SQLite file in HASHIRU_HOME, shared by the app and the CLI.

Why per-turn rows: a turn is written in one transaction when it ends, so a stopped or killed
turn leaves nothing half-written, and saving costs the size of the turn, not of the
conversation. Opening a conversation reads its rows alone; the list reads one page of the
conversations table, newest first, through an index. WAL lets the app and `hashiru run` read
while the other writes; writers take turns (BEGIN IMMEDIATE), so turn numbers never collide.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from hashiru.conversations.model import (
    Conversation,
    ConversationPage,
    ConversationSummary,
    Source,
    Turn,
    check_title,
    title_from,
)
from hashiru.errors import ConversationError
from hashiru.settings import RunPolicy
from hashiru.sqlite import SQLiteFile

SCHEMA_VERSION = 1
PAGE_SIZE = 50
_DAMAGED = datetime.fromtimestamp(0).astimezone()

_SCHEMA = (
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        turn_count INTEGER NOT NULL DEFAULT 0,
        policy TEXT
    )
    """,
    "CREATE INDEX conversations_by_update ON conversations(updated_at DESC, id DESC)",
    "CREATE INDEX conversations_by_owner ON conversations(owner, updated_at DESC, id DESC)",
    """
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (conversation_id, number)
    )
    """,
    # the words of each turn (the task and the answer), for the search box; rowid = turns.id
    "CREATE VIRTUAL TABLE turn_text USING fts5(text)",
)


class ConversationStore:
    """Conversations in one SQLite file (WAL), safe for threads and processes at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = SQLiteFile(path)
        self._transaction = self._file.transaction
        version = self._file.create(_SCHEMA, SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ConversationError(
                f"The conversation store {path} has schema version {version}, newer than this "
                f"HASHIRU understands ({SCHEMA_VERSION}); upgrade hashiru."
            )

    def new(
        self, source: Source = "api", owner: str = "", policy: RunPolicy | None = None
    ) -> Conversation:
        """A conversation with a fresh id, stored when its first turn is saved."""
        return Conversation(source=source, owner=owner, policy=policy)

    def get(self, ref: str, owner: str | None = None) -> Conversation:
        """The conversation whose id is (or starts with) `ref`, with all its turns.

        `owner` limits the search to one login's conversations. Raises ConversationError for
        an unknown or ambiguous id, or a damaged conversation.
        """
        with self._transaction("DEFERRED") as db:
            row = self._find(db, ref, owner)
            turns = db.execute(
                "SELECT number, body FROM turns WHERE conversation_id = ? ORDER BY number",
                (row["id"],),
            ).fetchall()
        try:
            conversation = Conversation(
                **_row_summary(row).model_dump(exclude={"turn_count", "spent_usd"}),
                policy=_policy(row["policy"]),
                turns=[_turn(number, body) for number, body in turns],
                saved=True,
            )
        except (ValidationError, ValueError) as exc:
            raise ConversationError(
                f"Conversation {row['id']} is damaged and cannot be opened ({_first_error(exc)}); "
                f"other conversations are not affected. `hashiru conversations delete "
                f"{row['id']}` removes it."
            ) from None
        return conversation

    def latest(self, owner: str | None = None) -> Conversation | None:
        """The conversation updated last, or None when there is none."""
        page = self.page(owner=owner, limit=1)
        return self.get(page.items[0].id) if page.items else None

    def page(
        self,
        owner: str | None = None,
        query: str = "",
        offset: int = 0,
        limit: int = PAGE_SIZE,
    ) -> ConversationPage:
        """One page of the conversations, newest first; `query` matches titles and the words
        of the turns (a word matches its beginning: "pyth" finds "Python")."""
        where, params = _filter(owner, query)
        with self._transaction("DEFERRED") as db:
            total = db.execute(f"SELECT count(*) FROM conversations WHERE {where}", params)
            total = total.fetchone()[0]
            rows = db.execute(
                f"SELECT * FROM conversations WHERE {where} "
                "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
                [*params, max(limit, 0), max(offset, 0)],
            ).fetchall()
        return ConversationPage(
            items=[_summary(row) for row in rows], total=total, offset=offset, limit=limit
        )

    def run_ids(self, conversation_ids: Sequence[str]) -> dict[str, list[str]]:
        """The runs of each conversation's turns (imported turns had none)."""
        found: dict[str, list[str]] = {cid: [] for cid in conversation_ids}
        marks = ", ".join("?" * len(conversation_ids))
        rows = self._file.connection().execute(
            f"SELECT conversation_id, run_id FROM turns WHERE conversation_id IN ({marks}) "
            "AND run_id != '' ORDER BY conversation_id, number",
            list(conversation_ids),
        )
        for cid, run_id in rows:
            found[cid].append(run_id)
        return found

    def save_turns(self, conversation: Conversation, turns: Sequence[Turn]) -> list[Turn]:
        """Append `turns` to `conversation` in one transaction (storing the conversation if it
        is new) and to the object itself; they are numbered after the stored turns.

        Another process may have added turns since `conversation` was read; these go after
        them, so nothing either wrote is lost. Raises ConversationError when the conversation
        was deleted meanwhile.
        """
        if not turns:
            return []
        updated = max(turn.at for turn in turns)
        title = conversation.title or title_from(turns[0].task)
        policy = conversation.policy.model_dump_json() if conversation.policy else None
        with self._transaction("IMMEDIATE") as db:
            row = db.execute(
                "SELECT turn_count, title FROM conversations WHERE id = ?", (conversation.id,)
            ).fetchone()
            if row is None and conversation.saved:
                raise ConversationError(
                    f"Conversation {conversation.id} was deleted while this turn ran; "
                    "the turn was not saved."
                )
            if row is None:
                db.execute(
                    "INSERT INTO conversations (id, title, source, owner, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (conversation.id, title, conversation.source, conversation.owner,
                     _time(conversation.created_at), _time(updated)),
                )  # fmt: skip
                count = 0
            else:
                count, title = row
            saved = []
            for number, turn in enumerate(turns, start=count + 1):
                turn = turn.model_copy(update={"number": number})
                cursor = db.execute(
                    "INSERT INTO turns (conversation_id, number, run_id, body) VALUES (?, ?, ?, ?)",
                    (conversation.id, number, turn.run_id, turn.model_dump_json()),
                )
                db.execute(
                    "INSERT INTO turn_text (rowid, text) VALUES (?, ?)",
                    (cursor.lastrowid, f"{turn.task}\n{turn.answer}"),
                )
                saved.append(turn)
            db.execute(
                "UPDATE conversations SET updated_at = ?, turn_count = ?, policy = ? WHERE id = ?",
                (_time(updated), count + len(saved), policy, conversation.id),
            )
        conversation.turns += saved
        conversation.title, conversation.updated_at, conversation.saved = title, updated, True
        return saved

    def rename(self, ref: str, title: str, owner: str | None = None) -> ConversationSummary:
        """Give a conversation a new title (one line, at most 200 characters)."""
        title = check_title(title)
        with self._transaction("IMMEDIATE") as db:
            row = self._find(db, ref, owner)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, row["id"]))
            row = db.execute("SELECT * FROM conversations WHERE id = ?", (row["id"],)).fetchone()
        return _summary(row)

    def delete(self, ref: str, owner: str | None = None) -> str:
        """Forget a conversation and its turns (the ledger keeps what they spent); its id."""
        with self._transaction("IMMEDIATE") as db:
            cid = self._find(db, ref, owner)["id"]
            db.execute(
                "DELETE FROM turn_text WHERE rowid IN "
                "(SELECT id FROM turns WHERE conversation_id = ?)",
                (cid,),
            )
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (cid,))
            db.execute("DELETE FROM conversations WHERE id = ?", (cid,))
        return cid

    def _find(self, db: sqlite3.Connection, ref: str, owner: str | None) -> sqlite3.Row:
        ref = ref.strip()
        if not re.fullmatch(r"[0-9a-f]{1,32}", ref):
            raise ConversationError(
                f"{ref[:40]!r} is not a conversation id (ids are hex, like 3f9a0c2e11b4); "
                "`hashiru conversations` lists them."
            )
        where, params = ("id LIKE ? || '%'", [ref])
        if owner is not None:
            where, params = f"{where} AND owner = ?", [ref, owner]
        rows = db.execute(f"SELECT * FROM conversations WHERE {where} LIMIT 2", params).fetchall()
        if not rows:
            raise ConversationError(f"No conversation {ref!r}; `hashiru conversations` lists them.")
        if len(rows) > 1:
            raise ConversationError(
                f"{ref!r} starts more than one conversation id; give more of it."
            )
        return rows[0]


def _filter(owner: str | None, query: str) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameters) for a login's conversations matching `query`."""
    clauses, params = ["1"], []
    if owner is not None:
        clauses.append("owner = ?")
        params.append(owner)
    query = query.strip()
    if query:
        escaped = re.sub(r"([\\%_])", r"\\\1", query)
        match = "title LIKE ? ESCAPE '\\'"
        params.append(f"%{escaped}%")
        words = re.findall(r"\w+", query)
        if words:
            match += (
                " OR id IN (SELECT conversation_id FROM turns WHERE id IN "
                "(SELECT rowid FROM turn_text WHERE turn_text MATCH ?))"
            )
            params.append(" ".join(f'"{word}"*' for word in words))
        clauses.append(f"({match})")
    return " AND ".join(clauses), params


def _row_summary(row: sqlite3.Row) -> ConversationSummary:
    """A row as a summary; ValidationError when the row is damaged."""
    return ConversationSummary(
        id=row["id"],
        title=row["title"],
        source=row["source"],
        owner=row["owner"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        turn_count=row["turn_count"],
    )


def _summary(row: sqlite3.Row) -> ConversationSummary:
    """A row as the list shows it; a damaged row is listed as damaged, never dropped."""
    try:
        return _row_summary(row)
    except ValidationError:
        return ConversationSummary(
            id=str(row["id"]),
            title=f"⚠ damaged: {str(row['title'])[:60]}",
            source="api",
            owner=str(row["owner"]),
            created_at=_DAMAGED,
            updated_at=_DAMAGED,
            turn_count=int(row["turn_count"] or 0),
        )


def _turn(number: int, body: str) -> Turn:
    try:
        return Turn.model_validate_json(body).model_copy(update={"number": number})
    except ValidationError as exc:
        raise ValueError(f"turn {number} cannot be read: {_first_error(exc)}") from None


def _policy(text: str | None) -> RunPolicy | None:
    """The stored policy, or None (the workspace's) when it is missing or no longer valid."""
    try:
        return RunPolicy.model_validate(json.loads(text)) if text else None
    except (ValueError, ValidationError):
        return None


def _time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)
