"""The ledger under races: threads, Ledger objects and processes on one file share the budget
and a run's cap to the nano-dollar, and a process killed mid-call does not lock its hold away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from hashiru.economy.ledger import DEAD_HOLDER_NOTE, BudgetState, Ledger
from hashiru.errors import BudgetExceeded
from tests.economy.conftest import BUDGET, NANO, hire, reserve, settle

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def watched(path: Path, run_id: str, cap: Decimal | None) -> Iterator[None]:
    """Read the books on a Ledger of its own, over and over while the block runs: no reading
    may show spent + reserved past the total, or the run's spend and holds past its cap."""
    ledger, readings, stop = Ledger(path, BUDGET, 0), [], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            readings.append(ledger.state(run_id))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
    assert readings, "the watcher read nothing"
    assert not [s for s in readings if over(s, cap)], "overspent while the race ran"


def over(state: BudgetState, cap: Decimal | None) -> bool:
    assert state.run_spent is not None and state.run_reserved is not None
    run_over = cap is not None and state.run_spent + state.run_reserved > cap
    return run_over or state.usd_spent + state.usd_reserved > state.usd_total


def test_a_hundred_threads_share_the_budget_exactly(ledger: Ledger) -> None:
    cost = BUDGET / 50
    start = threading.Barrier(100)

    def call(i: int) -> str | None:
        start.wait()
        try:
            held = reserve(ledger, str(cost), agent=f"e{i}")
        except BudgetExceeded as refused:
            return str(refused)
        settle(ledger, held, cost)
        return None

    with ThreadPoolExecutor(100) as pool:
        refusals = [r for r in pool.map(call, range(100)) if r]
    assert len(refusals) == 50
    assert all("only $0.0000 of the $1.0000 budget is free" in r for r in refusals)
    state = ledger.state()
    assert (state.usd_spent, state.usd_reserved) == (state.usd_total, 0)
    assert len(state.spent_by_agent) == 50


RACERS = 30
COST = Decimal("0.03")


@pytest.mark.parametrize("kind", ["call", "hire"])
@pytest.mark.parametrize("limit", ["budget", "run cap"])
def test_threads_race_for_the_last_nano_dollar(tmp_path: Path, limit: str, kind: str) -> None:
    """RACERS charges of COST, from threads on three Ledger objects of one file, against a limit
    one nano-dollar short of all of them: whatever the order, exactly RACERS - 1 get through and
    the last always finds one nano-dollar too little."""
    path = tmp_path / "ledger.db"
    ledgers = [Ledger(path, BUDGET, 0) for _ in range(3)]
    short = RACERS * COST - NANO
    ledgers[0].set_budget(usd=short if limit == "budget" else 2 * RACERS * COST)
    cap = short if limit == "run cap" else None
    start = threading.Barrier(RACERS)

    def charge(i: int) -> bool:
        ledger = ledgers[i % len(ledgers)]
        start.wait()
        try:
            if kind == "hire":
                hire(ledger, f"e{i}", "gemini", 0, fee=str(COST), run_limit_usd=cap)
                return True
            held = reserve(ledger, str(COST), agent=f"e{i}", run_limit_usd=cap)
        except BudgetExceeded:
            return False
        settle(ledger, held, COST)  # exactly what was held: nothing is handed back
        return True

    with watched(path, "run", cap), ThreadPoolExecutor(RACERS) as pool:
        through = list(pool.map(charge, range(RACERS)))
    assert through.count(True) == RACERS - 1
    state, spent = ledgers[1].state("run"), (RACERS - 1) * COST
    assert (state.usd_spent, state.run_spent, state.usd_reserved) == (spent, spent, 0)


WORKER = """
import sys
import time
from decimal import Decimal
from pathlib import Path
from hashiru.economy.ledger import Ledger
from hashiru.errors import BudgetExceeded
from hashiru.messages import Usage

path, calls, run, cost = sys.argv[1], int(sys.argv[2]), sys.argv[3], Decimal(sys.argv[4])
limit = Decimal(sys.argv[5]) if len(sys.argv) > 5 else None
ledger = Ledger(Path(path), Decimal(1), 0)
print("ready", flush=True)
sys.stdin.readline()
done = refused = 0
for _ in range(calls):
    try:
        held = ledger.reserve(
            run_id=run, agent=run, model="m", provider="p", usd=cost, run_limit_usd=limit
        )
    except BudgetExceeded:
        refused += 1
        continue
    if run == "held":
        print(held.id, flush=True)
        sys.stdin.readline()  # blocks until killed
    time.sleep(0.0005)  # the call: the other process's turn
    ledger.settle(held, usd=cost, usage=Usage(), seconds=0.0, price_source="test")
    done += 1
print(done, refused, flush=True)
"""


def worker(path: Path, calls: int, run: str, cost: str, *limit: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(calls), run, cost, *limit],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def race(workers: list[subprocess.Popen[str]]) -> list[tuple[int, int]]:
    """Start the workers at once; each one's (calls done, calls refused)."""
    for process in workers:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=60) for process in workers]
    assert all(p.returncode == 0 for p in workers), [err for _, err in outputs]
    return [(int(out.split()[0]), int(out.split()[1])) for out, _ in outputs]


def test_two_processes_on_one_file_never_overspend(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    cost = "0.004"  # 250 calls fit, of 600 tried
    workers = [worker(path, 300, run, cost) for run in ("p1", "p2")]
    outputs = race(workers)
    done = [d for d, _ in outputs]
    assert sum(done) == 250
    assert all(done), "the two processes did not overlap"
    assert [r for _, r in outputs] == [300 - d for d in done]
    ledger = Ledger(path, Decimal(1), 0)
    assert ledger.state().usd_spent == Decimal(1)
    assert [ledger.state(run).run_spent for run in ("p1", "p2")] == [
        d * Decimal(cost) for d in done
    ]


@pytest.mark.parametrize("limit", ["budget", "run cap"])
def test_two_processes_race_for_the_last_nano_dollar(tmp_path: Path, limit: str) -> None:
    """Two processes in one run, 140 calls of $0.01 against a limit one nano-dollar short of
    100 of them: exactly 99 get through, however the two interleave."""
    path, cost = tmp_path / "ledger.db", Decimal("0.01")
    short = 100 * cost - NANO
    Ledger(path, BUDGET, 0).set_budget(usd=short if limit == "budget" else Decimal(10))
    cap = [str(short)] if limit == "run cap" else []
    workers = [worker(path, 70, "shared", str(cost), *cap) for _ in range(2)]
    with watched(path, "shared", short if cap else None):
        outputs = race(workers)
    assert sum(d for d, _ in outputs) == 99
    assert sum(r for _, r in outputs) == 140 - 99
    ledger = Ledger(path, BUDGET, 0)
    state = ledger.state("shared")
    assert (state.usd_spent, state.run_spent, state.usd_reserved) == (99 * cost, 99 * cost, 0)
    holders = [e.holder for e in ledger.entries() if e.kind == "reserve"]
    turns = sum(a != b for a, b in pairwise(holders))
    assert turns >= 2, "the two processes did not take turns"


def test_a_killed_process_does_not_lock_its_hold_away(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(path, Decimal(1), 0)
    settle(ledger, reserve(ledger, "0.25"), "0.25")
    with worker(path, 1, "held", "0.30") as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("go\n")
        process.stdin.flush()
        held = int(process.stdout.readline())
        assert ledger.state().usd_reserved == Decimal("0.30")  # alive: the hold stands
        process.send_signal(signal.SIGKILL)

    state = Ledger(path, Decimal(1), 0).state()
    assert (state.usd_spent, state.usd_reserved) == (Decimal("0.25"), 0)
    released = [e for e in ledger.entries() if e.kind == "release"]
    assert [(e.reservation, e.note) for e in released] == [(held, DEAD_HOLDER_NOTE)]
    assert [e.usd for e in ledger.entries() if e.kind == "settle"] == [Decimal("0.25")]


def test_hires_racing_for_the_last_room_on_two_hosts_never_overfill_either(tmp_path) -> None:
    """Twelve hires of different 3 GiB models, each allowed on either of two 7 GiB hosts, from
    three Ledger objects at once: two fit on each host, and no reading ever shows more."""
    hosts = {"http://a:11434": 7 * 2**30, "http://b:11434": 7 * 2**30}
    path = tmp_path / "ledger.sqlite"
    ledgers = [Ledger(path, BUDGET, 0, hosts) for _ in range(3)]
    start = threading.Barrier(12)

    def place(i: int) -> str | None:
        start.wait()
        try:
            placed = hire(ledgers[i % 3], f"e{i}", f"ollama:m{i}", 3, hosts=tuple(hosts))
        except BudgetExceeded:
            return None
        return placed.host

    with ThreadPoolExecutor(12) as pool:
        placed = list(pool.map(place, range(12)))
    assert sorted(h for h in placed if h) == sorted([*hosts, *hosts])
    state = Ledger(path, BUDGET, 0, hosts).state()
    assert all(state.budgets[h].used_bytes == 6 * 2**30 for h in hosts)
