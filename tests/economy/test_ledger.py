"""The ledger: both budgets derived from rows, holds that never overspend, free work that always
goes through, and every amount checked to the nano-dollar. Races are in test_ledger_races.py."""

from __future__ import annotations

import re
import sqlite3
import tempfile
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from hashiru.economy.ledger import NO_RUN, BudgetState, Entry, HostMemory, Ledger, Reservation
from hashiru.economy.resources import GIB
from hashiru.errors import BudgetExceeded, HashiruError, LedgerError
from tests.economy.conftest import BUDGET, NANO, hire, reserve, settle

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
    with pytest.raises(LedgerError, match="already hired"):
        hire(ledger, "a", "gemma3", 1)
    with pytest.raises(LedgerError, match="not hired"):
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
    with pytest.raises(LedgerError, match="already settled"):
        settle(ledger, held, "0.30")
    with pytest.raises(LedgerError, match="already settled"):
        ledger.release(held)
    cancelled = reserve(ledger, "0.10")
    ledger.release(cancelled)
    with pytest.raises(LedgerError, match="already released"):
        settle(ledger, cancelled, "0.10")
    with pytest.raises(LedgerError, match="No reservation 99"):
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


def test_misuse_is_a_ledger_error_that_says_what_to_do(ledger: Ledger) -> None:
    for bad in ("-5", "NaN", "Infinity", "1e30"):
        message = f"usd must be a finite amount from 0 to 1,000,000,000, got {Decimal(bad)}"
        with pytest.raises(LedgerError, match=re.escape(message)):
            ledger.set_budget(usd=Decimal(bad))
        with pytest.raises(LedgerError, match="usd must be a finite amount"):
            reserve(ledger, bad)
        with pytest.raises(LedgerError, match="fee_usd must be a finite amount"):
            hire(ledger, "a", "qwen3", 1, fee=bad)
    with pytest.raises(LedgerError, match="memory_bytes must be a finite amount"):
        hire(ledger, "a", "qwen3", -1)
    with pytest.raises(LedgerError, match="memory_bytes must be a finite amount"):
        ledger.set_budget(memory_bytes=2**70)
    assert ledger.entries() == []


def test_a_charge_under_a_hundredth_of_a_cent_is_named_exactly(ledger: Ledger) -> None:
    ledger.set_budget(usd=Decimal("0.00001"))
    with pytest.raises(BudgetExceeded, match=r"needs up to \$0\.00002, but only \$0\.00001"):
        reserve(ledger, "0.00002")


def test_rows_no_run_made_carry_no_run(ledger: Ledger) -> None:
    hire(ledger, "a", "qwen3", 1)
    ledger.fire(run_id=NO_RUN, agent="a")  # as the CLI and the app fire
    ledger.set_budget(usd=Decimal(2))
    ledger.adjust(usd=Decimal("0.01"), note="invoice")
    assert [e.kind for e in ledger.entries(NO_RUN)] == ["fire", "budget", "adjust"]
    assert ledger.state(NO_RUN).run_spent == Decimal("0.01")


# --- every charge checked to the nano-dollar, and free work always goes through --------------

CHARGES = {
    "call": lambda ledger, usd, **kw: reserve(ledger, str(usd), **kw),
    "hire": lambda ledger, usd, **kw: hire(ledger, f"h{usd}", "gemini", 0, fee=str(usd), **kw),
}


@pytest.mark.parametrize("charge", CHARGES.values(), ids=CHARGES)
def test_the_budget_admits_exactly_what_is_free(ledger: Ledger, charge) -> None:
    settle(ledger, reserve(ledger, "0.123456789"), "0.123456789")
    reserve(ledger, "0.5")
    free = ledger.state().usd_free
    assert free == Decimal("0.376543211")
    with pytest.raises(BudgetExceeded, match=r"only \$0.3765 of the \$1.0000 budget is free"):
        charge(ledger, free + NANO)
    charge(ledger, free)
    assert ledger.state().usd_free == 0
    with pytest.raises(BudgetExceeded):
        charge(ledger, NANO)


@pytest.mark.parametrize("charge", CHARGES.values(), ids=CHARGES)
def test_a_run_cap_admits_exactly_what_is_left(ledger: Ledger, charge) -> None:
    cap = Decimal("0.3")
    settle(ledger, reserve(ledger, "0.1", run_id="other"), "0.1")  # another run's: not counted
    settle(ledger, reserve(ledger, "0.1"), "0.1")
    reserve(ledger, "0.05")
    with pytest.raises(BudgetExceeded, match=r"may spend \$0.3000 .* leaving \$0.1500"):
        charge(ledger, Decimal("0.15") + NANO, run_limit_usd=cap)
    charge(ledger, Decimal("0.15"), run_limit_usd=cap)
    state = ledger.state("run")
    assert state.run_spent + state.run_reserved == cap
    with pytest.raises(BudgetExceeded, match="Run limit exceeded"):
        charge(ledger, NANO, run_limit_usd=cap)
    charge(ledger, NANO, run_id="other", run_limit_usd=cap)  # each run has its own cap


def test_a_hold_rounds_up_so_a_tenth_of_a_nano_dollar_over_is_refused(ledger: Ledger) -> None:
    reserve(ledger, "0.5")
    with pytest.raises(BudgetExceeded):
        reserve(ledger, "0.5000000001")
    with pytest.raises(BudgetExceeded):
        reserve(ledger, "0.4000000001", run_limit_usd=Decimal("0.9"))
    assert reserve(ledger, "0.4999999999").usd == Decimal("0.5")


def test_a_hire_fee_above_the_run_cap_is_refused_and_leaves_no_row(ledger: Ledger) -> None:
    cap = Decimal("0.001")  # the issue: a $0.01 fee paid by a run capped at $0.001
    message = (
        r"Run limit exceeded: hiring 'cloudy' needs up to \$0.0100, but this run may spend "
        r"\$0.0010 and has used \$0.0000 \(plus \$0.0000 held\), leaving \$0.0010\. Finish"
    )
    with pytest.raises(BudgetExceeded, match=message):
        hire(ledger, "cloudy", "gemini", 0, fee="0.01", run_limit_usd=cap)
    assert ledger.entries() == [] and ledger.active_hires() == {}
    assert ledger.state("run").run_spent == 0
    hire(ledger, "cloudy", "gemini", 0, fee="0.01", run_limit_usd=cap, enforce_usd=False)
    assert ledger.state("run").run_spent == Decimal("0.01")  # unenforced: recorded anyway


def test_free_work_goes_through_when_spend_is_past_the_budget(ledger: Ledger) -> None:
    settle(ledger, reserve(ledger, "0.6"), "0.6")
    ledger.set_budget(usd=Decimal("0.5"))  # lowered below what was spent
    assert ledger.state().usd_free == Decimal("-0.1")
    settle(ledger, reserve(ledger, "0"), "0")  # the CEO's own call on a local model
    hire(ledger, "local", "qwen3", 3, fee="0")
    with pytest.raises(BudgetExceeded, match="Not enough memory"):  # memory is still enforced
        hire(ledger, "big", "llama3", 6, fee="0")
    with pytest.raises(BudgetExceeded, match=r"needs up to \$0.000000001, but only \$0.0000 "):
        reserve(ledger, "0.000000001")  # one nano-dollar is money
    with pytest.raises(BudgetExceeded):
        hire(ledger, "cloudy", "gemini", 0, fee="0.000000001")
    assert set(ledger.active_hires()) == {"local"}
    assert ledger.state().usd_spent == Decimal("0.6")


def test_free_work_goes_through_when_the_run_is_past_its_cap(ledger: Ledger) -> None:
    cap = Decimal("0.01")
    settle(ledger, reserve(ledger, "0.01", run_limit_usd=cap), "0.02")  # cost more than held
    settle(ledger, reserve(ledger, "0", run_limit_usd=cap), "0")
    hire(ledger, "local", "qwen3", 3, fee="0", run_limit_usd=cap)
    with pytest.raises(BudgetExceeded, match="Run limit exceeded"):
        reserve(ledger, "0.000000001", run_limit_usd=cap)
    with pytest.raises(BudgetExceeded, match="Run limit exceeded"):
        hire(ledger, "cloudy", "gemini", 0, fee="0.000000001", run_limit_usd=cap)
    state = ledger.state("run")
    assert (state.run_spent, state.run_reserved) == (Decimal("0.02"), 0)


# --- the budgets are what the rows say, and enforced ones are never overspent ---------------


HOST_MEMORY = {"big": 5 * GIB}  # a host with a budget of its own; "shared" loads on this machine's
HOSTS = ["", "shared", "big"]


def replay(entries: list[Entry], usd: Decimal, memory: int, run_id: str | None) -> BudgetState:
    """An independent reading of the rows: nothing but the definitions, from scratch."""
    budgets = [e for e in entries if e.kind == "budget"]
    if budgets:
        usd, memory = budgets[-1].usd or Decimal(0), budgets[-1].memory_bytes or 0
    closed = {e.reservation for e in entries if e.kind in ("settle", "release")}
    holds = [e for e in entries if e.kind == "reserve" and e.id not in closed]
    costs = [e for e in entries if e.kind in ("settle", "hire", "adjust")]
    latest = {e.agent: e for e in entries if e.kind in ("hire", "fire")}
    loaded: dict[str, dict[str, int]] = {}
    for e in latest.values():
        if e.kind == "hire" and e.memory_bytes:
            held = loaded.setdefault(e.host, {})
            held[e.model] = max(held.get(e.model, 0), e.memory_bytes)
    pools: dict[str, dict[str, int]] = {"": {}, **{h: {} for h in HOST_MEMORY}}
    for host, held in loaded.items():
        for model, size in held.items():
            pool = pools[host if host in HOST_MEMORY else ""]
            pool[model] = pool.get(model, 0) + size
    totals = {"": memory, **HOST_MEMORY}
    budgets = {
        name: HostMemory(
            total_bytes=totals[name],
            used_bytes=sum(models.values()),
            free_bytes=totals[name] - sum(models.values()),
            models=models,
        )
        for name, models in pools.items()
    }
    models = pools[""]
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
        budgets=budgets,
        loaded=loaded,
        **run,
    )


MODEL_GIB = {"qwen3": 3, "gemma3": 2, "gemini": 0}
usd_amounts = st.decimals(min_value=0, max_value=Decimal("0.25"), places=10)
# What a charge asks for: any amount, or what is left of the budget or of the run's cap, exactly
# or one nano-dollar either side: the boundaries where a check loosened by a nano-dollar shows.
aims = st.sampled_from(["any", "budget", "run"])
nudges = st.sampled_from([-1, 0, 1])
runs = st.sampled_from(["r1", "r2"])


def run_room(state: BudgetState, cap: Decimal | None) -> Decimal | None:
    assert state.run_spent is not None and state.run_reserved is not None
    return None if cap is None else cap - state.run_spent - state.run_reserved


def fits(state: BudgetState, usd: Decimal, cap: Decimal | None) -> bool:
    """The rule, written plainly: free always fits, else it must fit the budget and the cap."""
    room = run_room(state, cap)
    return usd == 0 or (usd <= state.usd_free and (room is None or usd <= room))


class LedgerMachine(RuleBasedStateMachine):
    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.ledger = Ledger(Path(self.folder.name) / "ledger.db", BUDGET, 6 * GIB, HOST_MEMORY)
        self.floor = (Decimal(0), 0)  # what was committed when the budget was last set
        self.budgets_set = 0
        self.caps: dict[str, Decimal | None] = {"r1": None, "r2": None}
        self.last: dict[str, tuple[Decimal, Decimal]] = {}

    def teardown(self) -> None:
        self.folder.cleanup()

    def committed(self) -> tuple[Decimal, int]:
        state = self.ledger.state()
        return state.usd_spent + state.usd_reserved, state.memory_used_bytes

    def asked(self, run: str, aim: str, nudge: int, usd: Decimal) -> Decimal:
        state = self.ledger.state(run)
        room = state.usd_free if aim == "budget" else run_room(state, self.caps[run])
        if aim == "any" or room is None:
            return usd
        return max(Decimal(0), room + nudge * NANO)

    @initialize(cap=usd_amounts.map(lambda d: d * 2))
    def cap_the_first_run(self, cap: Decimal) -> None:
        self.caps["r1"] = cap  # r2 has no cap: only the budget bounds it

    @rule(target=reservations, run=runs, aim=aims, nudge=nudges, usd=usd_amounts)
    def reserve(self, run: str, aim: str, nudge: int, usd: Decimal) -> object:
        usd = self.asked(run, aim, nudge, usd)
        before, hold = self.ledger.state(run), usd.quantize(NANO, ROUND_CEILING)
        try:
            held = self.ledger.reserve(
                run_id=run,
                agent="a",
                model="m",
                provider="p",
                usd=usd,
                run_limit_usd=self.caps[run],
            )
        except BudgetExceeded:  # only when it truly does not fit
            assert not fits(before, hold, self.caps[run])
            return multiple()
        assert fits(before, hold, self.caps[run]), "held what does not fit"
        assert held.usd == hold
        return held

    @rule(
        reservation=consumes(reservations),
        share=st.sampled_from([Decimal(0), Decimal(1)]) | st.decimals(0, 1, places=3),
    )
    def settle(self, reservation: Reservation, share: Decimal) -> None:
        before = self.committed()
        cost = (reservation.usd * share).quantize(Decimal("1e-12"), ROUND_DOWN)
        settle(self.ledger, reservation, cost)
        assert self.committed()[0] <= before[0]

    @rule(reservation=consumes(reservations))
    def release(self, reservation: Reservation) -> None:
        self.ledger.release(reservation)

    @rule(
        agent=st.sampled_from("abcd"),
        model=st.sampled_from(sorted(MODEL_GIB)),
        run=runs,
        aim=aims,
        nudge=nudges,
        usd=usd_amounts,
        hosts=st.lists(st.sampled_from(HOSTS), min_size=1, max_size=3, unique=True),
    )
    def hire(
        self, agent: str, model: str, run: str, aim: str, nudge: int, usd: Decimal, hosts: list
    ) -> None:
        fee = self.asked(run, aim, nudge, usd)
        hired = agent in self.ledger.active_hires()
        state, last_row = self.ledger.state(run), self.ledger.entries(last=1)

        def needed(host: str) -> int:
            return MODEL_GIB[model] * GIB - state.loaded.get(host, {}).get(model, 0)

        def room(host: str) -> int:
            return state.budgets[host if host in HOST_MEMORY else ""].free_bytes

        fitting = [h for h in hosts if max(needed(h), 0) <= room(h)]
        allowed = fits(state, fee.quantize(NANO, ROUND_HALF_EVEN), self.caps[run])
        allowed = allowed and bool(fitting)
        try:
            placed = hire(
                self.ledger,
                agent,
                model,
                MODEL_GIB[model],
                str(fee),
                run,
                tuple(hosts),
                run_limit_usd=self.caps[run],
            )
        except LedgerError:
            assert hired
        except BudgetExceeded:  # only when it truly does not fit
            assert not hired and not allowed
            assert self.ledger.entries(last=1) == last_row, "a refused hire left a row"
        else:
            assert not hired and allowed, "hired what does not fit"
            assert placed.host in fitting, "placed where it does not fit"
            if any(needed(h) <= 0 for h in fitting):
                assert needed(placed.host) <= 0, "loaded again where a host already holds it"

    @rule(agent=st.sampled_from("abcd"), run=st.sampled_from(["r1", NO_RUN]))
    def fire(self, agent: str, run: str) -> None:
        hired = agent in self.ledger.active_hires()
        try:
            self.ledger.fire(run_id=run, agent=agent)
        except LedgerError:
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
        big = state.budgets["big"]
        assert big.used_bytes <= big.total_bytes == HOST_MEMORY["big"]

    @invariant()
    def nothing_grows_past_a_total(self) -> None:
        """spent + reserved <= total after every step, for the budget, the memory and the capped
        run; only once set_budget lowers a total below it may it stay above (and never grow)."""
        state = self.ledger.state("r1")
        assert state.run_spent is not None and state.run_reserved is not None
        now = {
            "usd": (state.usd_spent + state.usd_reserved, state.usd_total),
            "memory": (Decimal(state.memory_used_bytes), Decimal(state.memory_total_bytes)),
        }
        if (cap := self.caps["r1"]) is not None:
            now["r1"] = (state.run_spent + state.run_reserved, cap)
        for budget, (committed, total) in now.items():
            was = self.last.get(budget, (Decimal(0), total))[0]
            assert committed <= total or committed <= was, f"{budget}: {committed} > {total}"
        self.last = now

    @invariant()
    def state_is_a_replay_of_the_rows(self) -> None:
        entries = self.ledger.entries()
        for run_id in (None, "r1", "r2"):
            assert self.ledger.state(run_id) == replay(entries, BUDGET, 6 * GIB, run_id)


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=75, stateful_step_count=30, deadline=None)


def test_entries_after_a_row_and_the_last_few(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", default_usd=Decimal(5), default_memory_bytes=0)
    for n in range(5):
        ledger.set_budget(usd=Decimal(n))
    every = ledger.entries()
    assert [e.id for e in ledger.entries(last=2)] == [e.id for e in every[-2:]]
    assert [e.id for e in ledger.entries(after_id=every[2].id)] == [e.id for e in every[3:]]
    assert ledger.entries(after_id=every[-1].id) == []


def test_a_version_1_ledger_is_migrated_its_hires_on_this_machine(tmp_path):
    """A ledger written before hosts: its hires keep their memory, on this machine's budget."""
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute(_V1_ENTRIES)
    db.execute(
        "INSERT INTO entries (at, kind, agent, model, provider, usd_nano, memory_bytes) "
        "VALUES ('2026-01-01T00:00:00', 'hire', 'old', 'ollama:x', 'ollama', 0, ?)",
        (2 * GIB,),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    ledger = Ledger(path, BUDGET, 6 * GIB)
    state = ledger.state()
    assert state.loaded == {"": {"ollama:x": 2 * GIB}} and state.memory_used_bytes == 2 * GIB
    assert ledger.active_hires()["old"].host == ""
    hire(ledger, "new", "ollama:x", 2)  # shares the old hire's model
    assert ledger.state().memory_used_bytes == 2 * GIB
    assert Ledger(path, BUDGET, 6 * GIB).state() == ledger.state(), "migrated once, stays so"


_V1_ENTRIES = """
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL,
        run_id TEXT NOT NULL DEFAULT '', agent TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '', provider TEXT NOT NULL DEFAULT '',
        input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0, cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        usd_nano INTEGER, memory_bytes INTEGER, seconds REAL,
        price_source TEXT NOT NULL DEFAULT '', reservation INTEGER REFERENCES entries(id),
        holder TEXT NOT NULL DEFAULT '', ok INTEGER NOT NULL DEFAULT 1,
        note TEXT NOT NULL DEFAULT ''
    )
"""
