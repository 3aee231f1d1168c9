"""Several processes on one store, and a writer killed mid-write: nothing lost or half-done."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hashiru.conversations import ConversationStore

WRITER = [sys.executable, "-m", "tests.conversations.writer"]


def test_two_processes_write_different_conversations_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writers = [subprocess.Popen([*WRITER, str(path), tag, "30"]) for tag in ("left", "right")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    store = ConversationStore(path)
    page = store.page(limit=100)
    assert page.total == 60
    for item in page.items:
        assert [t.number for t in store.get(item.id).turns] == [1, 2, 3]
    assert store.page(query="left").total == store.page(query="right").total == 30


def test_a_writer_killed_mid_write_leaves_whole_turns(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ConversationStore(path)  # created before, so the kill lands among turns, not the schema
    for delay in (0.05, 0.2, 0.45):
        writer = subprocess.Popen([*WRITER, str(path), f"w{delay}", "0"], stdout=subprocess.PIPE)
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    store = ConversationStore(path)
    page = store.page(limit=1000)
    assert page.total > 3  # the writers did write
    for item in page.items:
        conversation = store.get(item.id)  # every saved turn reads back whole
        assert [t.number for t in conversation.turns] == list(range(1, item.turn_count + 1))
    db = sqlite3.connect(path)
    turns, words = (
        db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("turns", "turn_text")
    )
    assert turns == words == sum(item.turn_count for item in page.items)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
