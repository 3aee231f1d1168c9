"""Whole `hashiru run` processes: killed mid-run, and several at once on one HASHIRU_HOME."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from hashiru.agents.roster import Roster
from hashiru.economy.ledger import DEAD_HOLDER_NOTE, Ledger
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import call, hire
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import FakeTurn

HASHIRU = str(Path(sys.executable).with_name("hashiru"))


def script(path: Path, turns: list) -> str:
    path.write_text(json.dumps(turns))
    return f"scripted:{path}"


def ask(name: str) -> dict:
    return call("ask_agent", name=name, prompt="go")


def test_kill_9_mid_run_loses_nothing_committed(tmp_path: Path) -> None:
    slow = script(tmp_path / "slow.json", [{"text": "late", "delay": 60}])
    ceo = script(
        tmp_path / "ceo.json", [{"tool_calls": [hire("slow", slow)]}, {"tool_calls": [ask("slow")]}]
    )
    env = os.environ | {"HASHIRU_LOCAL_USD_PER_HOUR": "3.6"}  # so a local call holds money
    run = subprocess.Popen(
        [HASHIRU, "run", "x", "--ceo", ceo],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings = Settings.load(environ=env)
    ledger_path = settings.home / "ledger.sqlite"
    deadline = time.monotonic() + 60
    while not (ledger_path.exists() and _open_hold(Ledger(ledger_path, Decimal(5), 2**30))):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    before = Ledger(ledger_path, Decimal(5), 2**30).entries()
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    hashiru = Hashiru.from_settings(settings)
    assert hashiru.company.roster.get("slow").calls == 0, "hired before the kill, still hired"
    assert set(hashiru.ledger.active_hires()) == {"slow"}
    state = hashiru.ledger.state()
    assert state.usd_reserved == 0
    after = hashiru.ledger.entries()
    assert after[: len(before)] == before, "nothing committed is lost"
    released = [e for e in after if e.kind == "release"]
    assert [e.note for e in released] == [DEAD_HOLDER_NOTE]


def _open_hold(ledger: Ledger) -> bool:
    entries = ledger.entries()
    closed = {e.reservation for e in entries}
    return any(e.kind == "reserve" and e.agent == "slow" and e.id not in closed for e in entries)


def new_ledger(path: Path) -> None:
    Ledger(path, Decimal(5), 2**30)


@pytest.mark.parametrize("create", [new_ledger, Roster])
def test_two_openers_of_one_new_sqlite_file_both_succeed(
    tmp_path: Path, create: Callable[[Path], object]
) -> None:
    """SQLite refused one of two switches of a new file to WAL ("database is locked") without
    waiting out its busy timeout, so the ledger and the roster create their files under a lock.
    Two threads stand in for two processes (SQLite locks connections, not processes); the race
    is narrow, so fifty new files are opened."""

    def open_at_once(start: threading.Barrier, path: Path) -> None:
        start.wait()
        create(path)

    with ThreadPoolExecutor(2) as pool:
        for n in range(50):
            start, path = threading.Barrier(2), tmp_path / f"{n}.sqlite"
            for opened in [pool.submit(open_at_once, start, path) for _ in range(2)]:
                opened.result()  # raises what the opener that lost raised


OPEN_HOME = """
import sys
from hashiru.runtime import Hashiru
print("ready", flush=True)
sys.stdin.readline()
Hashiru.from_settings().memory.count()  # creates the ledger, the roster and the memories
"""


@pytest.mark.slow  # eighteen processes that each load the runtime
def test_processes_opening_one_new_home_at_once_all_succeed(tmp_path: Path) -> None:
    """Creating a home's stores races: SQLite refused one of two switches of a new file to WAL
    ("database is locked", its busy timeout skipped) and Chroma's first open failed in one of two
    processes ("table collections already exists"). Released together, each of several
    processes must open every store of a new home."""
    for home in range(3):  # the race is narrow: several new homes make it likelier to be lost
        env = os.environ | {
            "HASHIRU_HOME": str(tmp_path / f"home{home}"),
            "HASHIRU_MEMORY_EMBEDDING": "hash",
        }
        opening = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_HOME],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for process in opening:  # all imported, so they open the home within a moment
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in opening:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in opening:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err


def test_two_processes_on_one_home_never_overspend(tmp_path: Path) -> None:
    model = "gemini:gemini-2.5-flash"
    with FakeGemini() as fake:
        fake.plan(
            "gemini-2.5-flash",
            *[FakeTurn(text="ok", input_tokens=100, output_tokens=100, delay=1.0)] * 50,
        )
        env = os.environ | {
            "GEMINI_API_KEY": "k",
            "GOOGLE_GEMINI_BASE_URL": fake.url,
            "HASHIRU_HIRE_FEE_USD": "0",
            "HASHIRU_MAX_TOKENS": "100",
            "HASHIRU_RETRIES": "0",
        }
        hashiru = Hashiru.from_settings(Settings.load(environ=env))
        hold = hashiru.company.prices.worst_case("gemini", "gemini-2.5-flash", 1, 100)
        hashiru.ledger.set_budget(usd=hold * 30)  # holds for fewer than the 50 asks
        runs = []
        for team in "ab":
            names = [f"{team}{i:02}" for i in range(25)]
            ceo = script(
                tmp_path / f"{team}.json",
                [
                    {"tool_calls": [hire(n, model) for n in names]},
                    {"tool_calls": [ask(n) for n in names]},
                    {"text": "done"},
                ],
            )
            runs.append(
                subprocess.Popen(
                    [HASHIRU, "run", "x", "--ceo", ceo],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        streams = [run.communicate(timeout=120) for run in runs]

    outputs = [out for out, _ in streams]
    printed = "\n".join(
        f"--- process {team}: exit {run.returncode}\nstdout:\n{out}\nstderr:\n{err}"
        for team, run, (out, err) in zip("ab", runs, streams, strict=True)
    )
    assert [run.returncode for run in runs] == [0, 0], printed
    failed = sum(out.count("✗ ask_agent") for out in outputs)
    explained = sum(out.count("Budget exceeded") for out in outputs)
    assert 0 < failed == explained
    state = hashiru.ledger.state()
    assert state.usd_spent <= state.usd_total and state.usd_reserved == 0
    entries = hashiru.ledger.entries()
    settled = [e for e in entries if e.kind == "settle" and e.agent != "ceo"]
    assert len(settled) == 50 - failed
    # the runs' rows interleave: run one after the other, they would pass the checks above too
    turns = [run for run, _ in itertools.groupby(e.run_id for e in entries if e.run_id)]
    assert len(turns) > 2, "the two runs did not overlap"
