"""The ledger: both budgets derived from rows, holds that never overspend, across threads,
processes and a process killed mid-call."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from hashiru.economy.ledger import (
    DEAD_HOLDER_NOTE,
    BudgetState,
    Entry,
    Ledger,
    Reservation,
)
from hashiru.economy.resources import GIB
from hashiru.errors import BudgetExceeded, HashiruError
from hashiru.messages import Usage

ROOT = Path(__file__).resolve().parents[2]
BUDGET = Decimal("1.00")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.db", BUDGET, 8 * GIB)


def reserve(ledger: Ledger, usd: str, run_id: str = "run", agent: str = "a", **kw) -> Reservation:
    return ledger.reserve(
        run_id=run_id, agent=agent, model="m", provider="p", usd=Decimal(usd), **kw
    )


def settle(ledger: Ledger, reservation: Reservation, usd: str | Decimal) -> None:
    usage = Usage(input_tokens=10, output_tokens=5)
    ledger.settle(reservation, usd=Decimal(usd), usage=usage, seconds=0.1, price_source="test")


def hire(ledger: Ledger, agent: str, model: str, gib: float, fee: str = "0", **kw) -> None:
    ledger.hire(
        run_id="run",
        agent=agent,
        model=model,
        provider="ollama",
        fee_usd=Decimal(fee),
        memory_bytes=int(gib * GIB),
        **kw,
    )


# --- hiring and memory ---------------------------------------------------------------------


def test_employees_on_one_model_share_its_memory(ledger: Ledger) -> None:
    hire(ledger, "a", "qwen3", 3)
    hire(ledger, "b", "qwen3", 3)
    assert ledger.state().models_in_memory == {"qwen3": 3 * GIB}
    assert ledger.state().memory_free_bytes == 5 * GIB
    ledger.fire(run_id="run", agent="a")
    assert ledger.state().memory_used_bytes == 3 * GIB
    assert set(ledger.active_hires()) == {"b"}
    ledger.fire(run_id="run", agent="b")
    assert (ledger.state().memory_used_bytes, ledger.state().models_in_memory) == (0, {})


def test_memory_refusal_names_what_is_free_and_whom_to_fire(ledger: Ledger) -> None:
    hire(ledger, "a", "qwen3", 3)
    hire(ledger, "b", "qwen3", 3)
    hire(ledger, "c", "gemma3", 4)
    hire(ledger, "cloudy", "gemini", 0)  # cloud models take no memory here
    with pytest.raises(BudgetExceeded) as refused:
        hire(ledger, "d", "llama3", 5)
    message = str(refused.value)
    assert "needs 5.00 GiB, but only 1.00 GiB of 8.00 GiB is free" in message
    assert "'c' (gemma3, frees 4.00 GiB" in message
    assert "'a', 'b' (qwen3, frees 3.00 GiB" in message
    assert "cloudy" not in message
    assert "d" not in ledger.active_hires()
    hire(ledger, "e", "qwen3", 3)  # already loaded: costs no more memory
    hire(ledger, "d", "llama3", 5, enforce_memory=False)  # recorded anyway
    assert ledger.state().memory_free_bytes == -4 * GIB


def test_fee_refusal_says_what_is_free(ledger: Ledger) -> None:
    hire(ledger, "a", "qwen3", 1, fee="0.60")
    with pytest.raises(BudgetExceeded, match=r"only \$0.4000 of the \$1.0000 budget is free"):
        hire(ledger, "b", "gemma3", 1, fee="0.50")
    hire(ledger, "b", "gemma3", 1, fee="0.50", enforce_usd=False)
    assert ledger.state().usd_spent == Decimal("1.10")
    assert ledger.state().spent_by_agent == {"a": Decimal("0.6"), "b": Decimal("0.5")}


def test_hiring_a_hired_name_or_firing_a_stranger_is_a_caller_bug(ledger: Ledger) -> None:
    hire(ledger, "a", "qwen3", 1)
    with pytest.raises(ValueError, match="already hired"):
        hire(ledger, "a", "gemma3", 1)
    with pytest.raises(ValueError, match="not hired"):
        ledger.fire(run_id="run", agent="nobody")
    ledger.fire(run_id="run", agent="a")
    hire(ledger, "a", "gemma3", 2)  # the name is free again
    assert ledger.active_hires()["a"].model == "gemma3"


# --- calls ---------------------------------------------------------------------------------


def test_reserve_settle_and_release(ledger: Ledger) -> None:
    held = reserve(ledger, "0.30")
    assert ledger.state().usd_reserved == Decimal("0.30")
    settle(ledger, held, "0.45")  # costlier than held: recorded anyway
    cancelled = reserve(ledger, "0.20", agent="b")
    ledger.release(cancelled, note="cancelled")
    state = ledger.state("run")
    assert (state.usd_spent, state.usd_reserved, state.usd_free) == (
        Decimal("0.45"),
        0,
        Decimal("0.55"),
    )
    assert state.spent_by_agent == {"a": Decimal("0.45")}
    assert [e.kind for e in ledger.entries()] == ["reserve", "settle", "reserve", "release"]
    settled = ledger.entries()[1]
    assert (settled.reservation, settled.input_tokens, settled.price_source) == (
        held.id,
        10,
        "test",
    )


def test_holds_round_up_and_costs_round_half_even(ledger: Ledger) -> None:
    held = reserve(ledger, "0.0000000001")
    assert held.usd == Decimal("0.000000001")  # a hold is never less than asked
    settle(ledger, held, "0.0000000025")
    assert ledger.state().usd_spent == Decimal("0.000000002")


def test_refusal_says_what_is_free_and_what_to_do(ledger: Ledger) -> None:
    settle(ledger, reserve(ledger, "0.50"), "0.50")
    reserve(ledger, "0.40")
    with pytest.raises(BudgetExceeded) as refused:
        reserve(ledger, "0.20")
    message = str(refused.value)
    assert "only $0.1000 of the $1.0000 budget is free" in message
    assert "$0.5000 spent, $0.4000 held" in message
    assert "Finish with what you have, or use a local employee" in message


def test_run_limit(ledger: Ledger) -> None:
    settle(ledger, reserve(ledger, "0.10", run_id="other"), "0.10")
    settle(ledger, reserve(ledger, "0.10"), "0.10")
    reserve(ledger, "0.05")
    with pytest.raises(BudgetExceeded, match=r"this run may spend \$0.2000.*leaving \$0.0500"):
        reserve(ledger, "0.06", run_limit_usd=Decimal("0.20"))
    reserve(ledger, "0.05", run_limit_usd=Decimal("0.20"))
    state = ledger.state("run")
    assert (state.run_spent, state.run_reserved, state.usd_spent) == (
        Decimal("0.10"),
        Decimal("0.10"),
        Decimal("0.20"),
    )


def test_unenforced_calls_are_recorded_but_never_refused(ledger: Ledger) -> None:
    reserve(ledger, "0.90")
    reserve(ledger, "0.90", enforce=False)
    assert ledger.state().usd_free == Decimal("-0.80")
    with pytest.raises(BudgetExceeded, match=r"only \$0.0000"):
        reserve(ledger, "0.01")


def test_a_hold_closes_once(ledger: Ledger) -> None:
    held = reserve(ledger, "0.30")
    settle(ledger, held, "0.30")
    with pytest.raises(ValueError, match="already settled"):
        settle(ledger, held, "0.30")
    with pytest.raises(ValueError, match="already settled"):
        ledger.release(held)
    cancelled = reserve(ledger, "0.10")
    ledger.release(cancelled)
    with pytest.raises(ValueError, match="already released"):
        settle(ledger, cancelled, "0.10")
    with pytest.raises(ValueError, match="No reservation 99"):
        ledger.release(Reservation(99, "run", "a", "m", "p", Decimal(1)))
    assert ledger.state().usd_spent == Decimal("0.30")


def test_budgets_and_adjustments(ledger: Ledger) -> None:
    ledger.set_budget(usd=Decimal("2"))
    ledger.set_budget(memory_bytes=GIB)  # the expense budget stays
    ledger.adjust(usd=Decimal("0.25"), note="provider invoice")
    ledger.adjust(usd=Decimal("-0.05"), note="refund", run_id="run")
    state = ledger.state("run")
    assert (state.usd_total, state.memory_total_bytes) == (Decimal(2), GIB)
    assert (state.usd_spent, state.run_spent, state.spent_by_agent) == (
        Decimal("0.20"),
        Decimal("-0.05"),
        {},
    )


def test_state_survives_reopening(tmp_path: Path, ledger: Ledger) -> None:
    ledger.set_budget(usd=Decimal("3"))
    hire(ledger, "a", "qwen3", 2, fee="0.01")
    settle(ledger, reserve(ledger, "0.30"), "0.25")
    reserve(ledger, "0.10")  # this process is alive: the hold stays
    reopened = Ledger(tmp_path / "ledger.db", Decimal("99"), 99 * GIB)  # the budget row wins
    assert reopened.state("run") == ledger.state("run")
    assert reopened.entries() == ledger.entries()
    assert reopened.active_hires() == ledger.active_hires()


def test_a_newer_schema_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(HashiruError, match="schema version 99"):
        Ledger(tmp_path / "ledger.db", BUDGET, GIB)


# --- the budgets are what the rows say, and enforced ones are never overspent ---------------


def replay(entries: list[Entry], usd: Decimal, memory: int, run_id: str | None) -> BudgetState:
    """An independent reading of the rows: nothing but the definitions, from scratch."""
    budgets = [e for e in entries if e.kind == "budget"]
    if budgets:
        usd, memory = budgets[-1].usd or Decimal(0), budgets[-1].memory_bytes or 0
    closed = {e.reservation for e in entries if e.kind in ("settle", "release")}
    holds = [e for e in entries if e.kind == "reserve" and e.id not in closed]
    costs = [e for e in entries if e.kind in ("settle", "hire", "adjust")]
    latest = {e.agent: e for e in entries if e.kind in ("hire", "fire")}
    models: dict[str, int] = {}
    for e in latest.values():
        if e.kind == "hire" and e.memory_bytes:
            models[e.model] = max(models.get(e.model, 0), e.memory_bytes)
    spent = sum((e.usd or Decimal(0) for e in costs), Decimal(0))
    reserved = sum((e.usd or Decimal(0) for e in holds), Decimal(0))
    by_agent: dict[str, Decimal] = {}
    for e in costs:
        if e.agent:
            by_agent[e.agent] = by_agent.get(e.agent, Decimal(0)) + (e.usd or 0)
    run = {}
    if run_id is not None:
        run["run_spent"] = sum((e.usd or 0 for e in costs if e.run_id == run_id), Decimal(0))
        run["run_reserved"] = sum((e.usd or 0 for e in holds if e.run_id == run_id), Decimal(0))
    return BudgetState(
        usd_total=usd,
        usd_spent=spent,
        usd_reserved=reserved,
        usd_free=usd - spent - reserved,
        memory_total_bytes=memory,
        memory_used_bytes=sum(models.values()),
        memory_free_bytes=memory - sum(models.values()),
        spent_by_agent=by_agent,
        models_in_memory=models,
        **run,
    )


MODEL_GIB = {"qwen3": 3, "gemma3": 2, "gemini": 0}
usd_amounts = st.decimals(min_value=0, max_value=Decimal("0.25"), places=10)


class LedgerMachine(RuleBasedStateMachine):
    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.ledger = Ledger(Path(self.folder.name) / "ledger.db", BUDGET, 6 * GIB)
        self.floor = (Decimal(0), 0)  # what was committed when the budget was last set
        self.budgets_set = 0

    def teardown(self) -> None:
        self.folder.cleanup()

    def committed(self) -> tuple[Decimal, int]:
        state = self.ledger.state()
        return state.usd_spent + state.usd_reserved, state.memory_used_bytes

    @rule(
        target=reservations,
        usd=usd_amounts,
        run=st.sampled_from(["r1", "r2"]),
        limit=st.none() | usd_amounts,
    )
    def reserve(self, usd: Decimal, run: str, limit: Decimal | None) -> object:
        try:
            return self.ledger.reserve(
                run_id=run, agent="a", model="m", provider="p", usd=usd, run_limit_usd=limit
            )
        except BudgetExceeded:  # only when it truly does not fit
            state, hold = self.ledger.state(run), usd.quantize(Decimal("1e-9"), ROUND_CEILING)
            assert state.run_spent is not None and state.run_reserved is not None
            run_free = None if limit is None else limit - state.run_spent - state.run_reserved
            assert hold > state.usd_free or (run_free is not None and hold > run_free)
            return multiple()

    @rule(reservation=consumes(reservations), share=st.decimals(0, 1, places=3))
    def settle(self, reservation: Reservation, share: Decimal) -> None:
        before = self.committed()
        cost = (reservation.usd * share).quantize(Decimal("1e-12"), ROUND_DOWN)
        settle(self.ledger, reservation, cost)
        assert self.committed()[0] <= before[0]

    @rule(reservation=consumes(reservations))
    def release(self, reservation: Reservation) -> None:
        self.ledger.release(reservation)

    @rule(agent=st.sampled_from("abcd"), model=st.sampled_from(sorted(MODEL_GIB)), fee=usd_amounts)
    def hire(self, agent: str, model: str, fee: Decimal) -> None:
        hired = agent in self.ledger.active_hires()
        state = self.ledger.state()
        try:
            hire(self.ledger, agent, model, MODEL_GIB[model], fee=str(fee))
        except ValueError:
            assert hired
        except BudgetExceeded:  # only when it truly does not fit
            loaded = state.models_in_memory.get(model, 0)
            needed = MODEL_GIB[model] * GIB - loaded
            assert fee > state.usd_free or needed > state.memory_free_bytes
        else:
            assert not hired

    @rule(agent=st.sampled_from("abcd"))
    def fire(self, agent: str) -> None:
        hired = agent in self.ledger.active_hires()
        try:
            self.ledger.fire(run_id="r1", agent=agent)
        except ValueError:
            assert not hired
        else:
            assert hired

    @precondition(lambda self: self.budgets_set < 3)  # else it crowds out the other rules
    @rule(usd=st.none() | usd_amounts.map(lambda d: d * 4), gib=st.none() | st.integers(0, 8))
    def set_budget(self, usd: Decimal | None, gib: int | None) -> None:
        self.ledger.set_budget(usd=usd, memory_bytes=None if gib is None else gib * GIB)
        self.floor = self.committed()
        self.budgets_set += 1

    @invariant()
    def enforced_budgets_hold(self) -> None:
        state = self.ledger.state()
        usd, memory = self.committed()
        assert usd <= max(state.usd_total, self.floor[0])
        assert memory <= max(state.memory_total_bytes, self.floor[1])

    @invariant()
    def state_is_a_replay_of_the_rows(self) -> None:
        entries = self.ledger.entries()
        for run_id in (None, "r1", "r2"):
            assert self.ledger.state(run_id) == replay(entries, BUDGET, 6 * GIB, run_id)


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=75, stateful_step_count=30, deadline=None)


# --- threads, processes and a process killed mid-call ---------------------------------------


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


WORKER = """
import sys
import time
from decimal import Decimal
from pathlib import Path
from hashiru.economy.ledger import Ledger
from hashiru.errors import BudgetExceeded
from hashiru.messages import Usage

path, calls, run, cost = sys.argv[1], int(sys.argv[2]), sys.argv[3], Decimal(sys.argv[4])
ledger = Ledger(Path(path), Decimal(1), 0)
print("ready", flush=True)
sys.stdin.readline()
done = refused = 0
for _ in range(calls):
    try:
        held = ledger.reserve(run_id=run, agent=run, model="m", provider="p", usd=cost)
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


def worker(path: Path, calls: int, run: str, cost: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(calls), run, cost],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_two_processes_on_one_file_never_overspend(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    cost = "0.004"  # 250 calls fit, of 600 tried
    workers = [worker(path, 300, run, cost) for run in ("p1", "p2")]
    for process in workers:  # both start at once
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [w.communicate(timeout=60)[0].split() for w in workers]
    done = [int(out[0]) for out in outputs]
    assert sum(done) == 250
    assert all(done), "the two processes did not overlap"
    assert [int(out[1]) for out in outputs] == [300 - d for d in done]
    ledger = Ledger(path, Decimal(1), 0)
    assert ledger.state().usd_spent == Decimal(1)
    assert [ledger.state(run).run_spent for run in ("p1", "p2")] == [
        d * Decimal(cost) for d in done
    ]


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


def test_entries_after_a_row_and_the_last_few(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", default_usd=Decimal(5), default_memory_bytes=0)
    for n in range(5):
        ledger.set_budget(usd=Decimal(n))
    every = ledger.entries()
    assert [e.id for e in ledger.entries(last=2)] == [e.id for e in every[-2:]]
    assert [e.id for e in ledger.entries(after_id=every[2].id)] == [e.id for e in every[3:]]
    assert ledger.entries(after_id=every[-1].id) == []
