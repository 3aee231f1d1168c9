"""The hired employees, kept in SQLite under `HASHIRU_HOME` so they survive restarts.

Every change is one small transaction and every read goes to the file, so several processes on
one `HASHIRU_HOME` (two runs, the UI and the CLI) see the same employees and never overwrite
each other's answers.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from hashiru.errors import AgentError, ConfigError
from hashiru.locks import exclusive
from hashiru.messages import Message, Usage

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CEO = "ceo"  # the name the CEO's own calls go by in the ledger; no employee may take it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS employees (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    system_prompt TEXT NOT NULL,
    description TEXT NOT NULL,
    local INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'other',
    host TEXT NOT NULL DEFAULT '',
    hired_at TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS conversation (
    id INTEGER PRIMARY KEY,
    employee TEXT NOT NULL REFERENCES employees(name) ON DELETE CASCADE,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_by_employee ON conversation(employee, id);
"""


class Employee(BaseModel):
    """A named agent on a base model with its own system prompt and conversation."""

    name: str
    model: str
    system_prompt: str
    description: str = ""
    local: bool = True
    kind: str = "other"  # what it was hired for; its asks are filed under it unless told
    host: str = ""  # where its model is loaded (an Ollama host's URL, an endpoint); "": no choice
    hired_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    history: list[Message] = Field(default_factory=list)
    calls: int = 0
    failures: int = 0
    seconds: float = 0.0
    usage: Usage = Field(default_factory=Usage)

    def summary(self) -> dict[str, object]:
        mean = self.seconds / self.calls if self.calls else 0.0
        return self.model_dump(
            include={"name", "model", "description", "local", "kind", "host", "calls", "failures"}
        ) | {
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "mean_seconds": round(mean, 3),
        }


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name) or name.lower() == CEO:
        raise AgentError(
            f"Invalid agent name {name!r}: use 1-64 letters, digits, '-' or '_' (and not '{CEO}')."
        )


class Roster:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:  # under the lock: two processes switching a new file to WAL at once, one fails
            with exclusive(path), self._db() as db:
                db.executescript(_SCHEMA)
                _add_columns(db)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{path} is damaged ({exc}); move it away to start with no employees."
            ) from None

    def _db(self) -> sqlite3.Connection:
        """This thread's connection; `with` it for one transaction."""
        if not hasattr(self._local, "db"):
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return self._local.db

    def __contains__(self, name: str) -> bool:
        row = self._db().execute("SELECT 1 FROM employees WHERE name = ?", (name,)).fetchone()
        return row is not None

    def __iter__(self) -> Iterator[Employee]:
        rows = self._db().execute("SELECT * FROM employees ORDER BY hired_at, name").fetchall()
        return iter([_employee(row) for row in rows])

    def __len__(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM employees").fetchone()[0]

    def get(self, name: str) -> Employee:
        db = self._db()
        row = db.execute("SELECT * FROM employees WHERE name = ?", (name,)).fetchone()
        if row is None:
            hired = ", ".join(e.name for e in self) or "nobody yet"
            raise AgentError(f"No employee named {name!r} (hired: {hired}).")
        messages = db.execute(
            "SELECT message FROM conversation WHERE employee = ? ORDER BY id", (name,)
        ).fetchall()
        history = [Message.model_validate_json(m["message"]) for m in messages]
        return _employee(row, history)

    def add(self, employee: Employee) -> None:
        check_name(employee.name)
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO employees (name, model, system_prompt, description, local, "
                    "kind, host, hired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        employee.name,
                        employee.model,
                        employee.system_prompt,
                        employee.description,
                        employee.local,
                        employee.kind,
                        employee.host,
                        employee.hired_at.isoformat(),
                    ),
                )
        except sqlite3.IntegrityError:
            raise AgentError(f"An employee named {employee.name!r} already exists.") from None

    def remove(self, name: str) -> Employee:
        employee = self.get(name)
        with self._db() as db:
            db.execute("DELETE FROM employees WHERE name = ?", (name,))
        return employee

    def record(
        self,
        name: str,
        seconds: float,
        exchange: tuple[Message, Message] | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Count one call: a question and its answer, or a failure when `exchange` is None.

        One UPDATE first, so the transaction takes the write lock before anything else.
        """
        usage = usage or Usage()
        with self._db() as db:
            updated = db.execute(
                "UPDATE employees SET calls = calls + 1, failures = failures + ?, "
                "seconds = seconds + ?, input_tokens = input_tokens + ?, "
                "output_tokens = output_tokens + ?, cache_read_tokens = cache_read_tokens + ?, "
                "cache_write_tokens = cache_write_tokens + ? WHERE name = ?",
                (
                    exchange is None,
                    seconds,
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cache_read_tokens,
                    usage.cache_write_tokens,
                    name,
                ),
            )
            if updated.rowcount and exchange:  # else: fired while the question was out
                db.executemany(
                    "INSERT INTO conversation (employee, message) VALUES (?, ?)",
                    [(name, message.model_dump_json()) for message in exchange],
                )


_ADDED_COLUMNS = {
    "kind": "TEXT NOT NULL DEFAULT 'other'",  # what older employees were hired for: anything
    "host": "TEXT NOT NULL DEFAULT ''",  # where older employees run: their backend's one place
}


def _add_columns(db: sqlite3.Connection) -> None:
    """Give a roster written by an older HASHIRU the columns added since."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(employees)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in columns:
            db.execute(f"ALTER TABLE employees ADD COLUMN {name} {definition}")


def _employee(row: sqlite3.Row, history: list[Message] | None = None) -> Employee:
    return Employee(
        name=row["name"],
        model=row["model"],
        system_prompt=row["system_prompt"],
        description=row["description"],
        local=bool(row["local"]),
        kind=row["kind"],
        host=row["host"],
        hired_at=datetime.fromisoformat(row["hired_at"]),
        history=history or [],
        calls=row["calls"],
        failures=row["failures"],
        seconds=row["seconds"],
        usage=Usage(**{field: row[field] for field in Usage.model_fields}),
    )
