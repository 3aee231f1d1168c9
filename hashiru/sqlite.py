"""SQLite files shared by threads and processes: the ledger's and the conversations'.

Why a connection per thread (and a new one after a fork): SQLite handles must not cross either.
Why autocommit mode with explicit BEGIN: each store says which transactions write (IMMEDIATE
takes the write lock before anything is read, so a check and the write it allows are atomic
across processes) and which only read.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from hashiru.locks import exclusive

Mode = Literal["DEFERRED", "IMMEDIATE"]


class SQLiteFile:
    """One SQLite file in WAL mode, with a connection for each thread that uses it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)

    def create(self, schema: Sequence[str], version: int) -> int:
        """Create `schema` in a new file (marking it `version`); the file's version, which the
        caller refuses when it is newer than it knows.

        Under a file lock: two processes switching a new file to WAL at once, one fails.
        """
        with exclusive(self.path):
            self.connection().execute("PRAGMA journal_mode=WAL")  # stays set in the file
            with self.transaction("IMMEDIATE") as db:
                found = db.execute("PRAGMA user_version").fetchone()[0]
                if found == 0:
                    for statement in schema:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {version}")
        return found or version

    def connection(self) -> sqlite3.Connection:
        """This thread's connection."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            local.db, local.pid = db, os.getpid()
        return local.db

    @contextmanager
    def transaction(self, mode: Mode) -> Iterator[sqlite3.Connection]:
        """One transaction on this thread's connection: committed, or rolled back on error."""
        db = self.connection()
        db.execute(f"BEGIN {mode}")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
