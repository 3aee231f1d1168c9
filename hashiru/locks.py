"""An OS file lock, so that processes sharing one HASHIRU_HOME take turns where they must.

Why: two processes may open one HASHIRU_HOME at the same instant (two `hashiru run`s, the UI and
the CLI), and creating a store there is not safe to race. SQLite refuses one of two concurrent
switches of a new file to WAL with "database is locked" at once, without waiting out its busy
timeout; Chroma's first open migrates its schema and the loser fails with "table collections
already exists". Each store is therefore created under this lock. The kernel drops the lock
when its holder exits, so a process killed while holding it blocks no one.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Run the block while no other process or thread holds the lock of `path` (`path`.lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f"{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield
