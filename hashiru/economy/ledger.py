"""The budget ledger: every hire, fire, call and correction as one row in SQLite.

Why append-only: rows are never changed or deleted, so the ledger is its own audit trail and
the budgets are *derived* from it (spent = settlements + hire fees + adjustments; reserved =
holds not yet settled or released; memory = the distinct models of active employees). There is
no counter to drift out of step with the rows, and a new process reading the file sees exactly
what every other process wrote.

Why reserve-then-settle: a call's price is known only after it returns, but the budget must be
checked before it starts. `reserve` holds the most the call may cost inside one write
transaction (so concurrent callers, threads or processes, can never together promise more than
the budget); `settle` records what it really cost and closes the hold; `release` closes a hold
for a call that never happened. Each hold names its process, so the hold of a process killed
mid-call is released by the next reader instead of locking money away forever.

Why it stays fast: each Ledger folds the rows it reads into its books and, at the start of
every transaction, reads only the rows added since. Rows never change and writers take turns,
so that gives the same figures as adding up every row again, at a cost that does not grow with
the ledger. Amounts are integer nano-dollars: exact sums, no floating point.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import psutil
from pydantic import BaseModel, ConfigDict

from hashiru.economy.resources import gib
from hashiru.errors import BudgetExceeded, HashiruError, LedgerError
from hashiru.messages import Usage
from hashiru.sqlite import SQLiteFile

SCHEMA_VERSION = 2  # 2: hires name the host their model is loaded on
DEAD_HOLDER_NOTE = "holder process died"
NO_RUN = ""
"""The run_id of rows that no run made: a fire from the CLI or the app, a budget change, a manual
adjustment. Their money counts against the workspace budget and against no run's cap."""

K = TypeVar("K")
Kind = Literal["budget", "hire", "fire", "reserve", "settle", "release", "adjust"]

_SCHEMA = (
    """
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN
            ('budget', 'hire', 'fire', 'reserve', 'settle', 'release', 'adjust')),
        run_id TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        provider TEXT NOT NULL DEFAULT '',
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        usd_nano INTEGER,
        memory_bytes INTEGER,
        seconds REAL,
        price_source TEXT NOT NULL DEFAULT '',
        reservation INTEGER REFERENCES entries(id),
        holder TEXT NOT NULL DEFAULT '',
        ok INTEGER NOT NULL DEFAULT 1,
        note TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT ''
    )
    """,
    # Unique: a hold is closed (settled or released) at most once, whatever the code above does.
    "CREATE UNIQUE INDEX entries_by_reservation ON entries(reservation) "
    "WHERE reservation IS NOT NULL",
    "CREATE INDEX entries_by_run ON entries(run_id)",
)


THIS_MACHINE = ""
"""The host of models loaded on this machine (the embedded model, a single Ollama, a local
endpoint with no budget of its own), and of the memory pool they share."""


@dataclass(frozen=True)
class Placement:
    """Where a hire could load its model, and the memory it would take there."""

    host: str
    memory_bytes: int


@dataclass(frozen=True)
class _Defaults:
    """What the books start from before any budget row: the dollars, this machine's memory,
    and the budgets of hosts with their own."""

    usd_nano: int
    memory_bytes: int
    host_memory: dict[str, int]


@dataclass(frozen=True)
class Reservation:
    """A hold on the budget for one call; `usd` is the amount held (rounded up to a nano-dollar)."""

    id: int
    run_id: str
    agent: str
    model: str
    provider: str
    usd: Decimal


class Entry(BaseModel):
    """One ledger row. `usd` is the hold (reserve), the cost (settle, hire, adjust) or the total
    (budget); `reservation` is the reserve row a settle or release closes."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    kind: Kind
    run_id: str
    agent: str
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    usd: Decimal | None
    memory_bytes: int | None
    seconds: float | None
    price_source: str
    reservation: int | None
    holder: str
    ok: bool
    note: str
    host: str


class HostMemory(BaseModel):
    """One memory budget: this machine's, or a host's or endpoint's of its own."""

    total_bytes: int
    used_bytes: int
    free_bytes: int
    models: dict[str, int]  # each model loaded under this budget -> its bytes (per host holding it)


class BudgetState(BaseModel):
    """Both budgets as the ledger's rows add up now. Free amounts go negative when overspent."""

    usd_total: Decimal
    usd_spent: Decimal
    usd_reserved: Decimal
    usd_free: Decimal
    memory_total_bytes: int
    memory_used_bytes: int
    memory_free_bytes: int
    spent_by_agent: dict[str, Decimal]  # adjustments without an agent are in no agent's total
    models_in_memory: dict[str, int]  # on this machine's budget
    budgets: dict[str, HostMemory]  # by host; THIS_MACHINE's is the memory_* figures above
    loaded: dict[str, dict[str, int]]  # host -> each model loaded there -> its bytes
    run_spent: Decimal | None = None  # these two only when state() was given a run_id
    run_reserved: Decimal | None = None

    def pool_of(self, host: str) -> str:
        """Whose memory budget a model loaded on `host` draws on: its own, or this machine's."""
        return host if host in self.budgets else THIS_MACHINE

    def budget_of(self, host: str) -> HostMemory:
        return self.budgets[self.pool_of(host)]

    def needed(self, model: str, placement: Placement) -> int:
        """The bytes loading `model` there would add: nothing once it is loaded on that host
        (its employees share it), only the growth if it now needs more."""
        return max(placement.memory_bytes - self.loaded.get(placement.host, {}).get(model, 0), 0)

    def place(self, model: str, candidates: Sequence[Placement]) -> Placement | None:
        """The host to load `model` on: one that holds it already, else the one left with the
        most free memory; None when it fits nowhere."""
        fitting = [
            c for c in candidates if self.needed(model, c) <= self.budget_of(c.host).free_bytes
        ]
        if not fitting:
            return None
        return min(
            fitting,
            key=lambda c: (
                self.needed(model, c) > 0,
                -(self.budget_of(c.host).free_bytes - self.needed(model, c)),
            ),
        )


class Ledger:
    """The append-only ledger in one SQLite file, shared by threads, tasks and processes."""

    def __init__(
        self,
        path: Path,
        default_usd: Decimal,
        default_memory_bytes: int,
        host_memory: Mapping[str, int] | None = None,
    ) -> None:
        """`default_memory_bytes` is this machine's memory budget until a budget row sets it;
        `host_memory` the budgets of hosts and endpoints that have their own (the settings')."""
        self.path = path
        self._defaults = _Defaults(
            _nano(default_usd, ROUND_HALF_EVEN), default_memory_bytes, dict(host_memory or {})
        )
        self._books = _Books(self._defaults)
        self._lock = threading.Lock()
        self._file = SQLiteFile(path)
        version = self._file.create(_SCHEMA, SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise HashiruError(
                f"The ledger {path} has schema version {version}, newer than this HASHIRU "
                f"understands ({SCHEMA_VERSION}); upgrade hashiru."
            )
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        """Version 1 knew one machine: its hires were all loaded on it (host '')."""
        with self._file.transaction("IMMEDIATE") as db:
            if db.execute("PRAGMA user_version").fetchone()[0] == 1:
                db.execute("ALTER TABLE entries ADD COLUMN host TEXT NOT NULL DEFAULT ''")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def set_budget(self, usd: Decimal | None = None, memory_bytes: int | None = None) -> None:
        """Record new totals; what is not given keeps its current value."""
        _check_amounts(usd=usd, memory_bytes=memory_bytes)
        with self._transaction("IMMEDIATE") as db:
            total, memory = self._books.budget
            if usd is not None:
                total = _nano(usd, ROUND_HALF_EVEN)
            if memory_bytes is not None:
                memory = memory_bytes
            self._append(db, "budget", usd_nano=total, memory_bytes=memory)

    def reserve(
        self,
        *,
        run_id: str,
        agent: str,
        model: str,
        provider: str,
        usd: Decimal,
        run_limit_usd: Decimal | None = None,
        enforce: bool = True,
    ) -> Reservation:
        """Hold `usd` for a call, or raise BudgetExceeded saying what is free and what to do.

        The hold must fit both the workspace budget and, given `run_limit_usd`, the run's cap;
        a $0 hold always fits. Raises LedgerError for a negative amount.
        """
        _check_amounts(usd=usd)
        hold = _nano(usd, ROUND_CEILING)
        refusal = None
        with self._transaction("IMMEDIATE") as db:
            self._release_dead_holds(db)
            if enforce:
                state = self._books.state(run_id)
                refusal = _usd_refusal(state, hold, "this call", run_limit_usd)
            if refusal is None:
                reservation_id = self._append(
                    db,
                    "reserve",
                    run_id=run_id,
                    agent=agent,
                    model=model,
                    provider=provider,
                    usd_nano=hold,
                    holder=_holder(os.getpid()),
                )
        if refusal:  # raised after the commit, so released dead holds stay released
            raise BudgetExceeded(refusal)
        return Reservation(reservation_id, run_id, agent, model, provider, _usd(hold))

    def settle(
        self,
        reservation: Reservation,
        *,
        usd: Decimal,
        usage: Usage,
        seconds: float,
        price_source: str,
        ok: bool = True,
        note: str = "",
    ) -> BudgetState:
        """Record what the call really cost (even above the hold) and close its hold.

        Returns both budgets and the run's figures just after, so the caller needs no second
        read to see where the money stands.
        """
        _check_amounts(usd=usd)
        with self._transaction("IMMEDIATE") as db:
            self._check_open(db, reservation)
            self._append(
                db,
                "settle",
                **_call_columns(reservation),
                **usage.model_dump(),
                usd_nano=_nano(usd, ROUND_HALF_EVEN),
                seconds=seconds,
                price_source=price_source,
                ok=ok,
                note=note,
            )
            return self._books.state(reservation.run_id)

    def release(self, reservation: Reservation, note: str = "") -> None:
        """Close a hold whose call never happened; nothing is spent."""
        with self._transaction("IMMEDIATE") as db:
            self._check_open(db, reservation)
            self._append(db, "release", **_call_columns(reservation), note=note)

    def hire(
        self,
        *,
        run_id: str,
        agent: str,
        model: str,
        provider: str,
        fee_usd: Decimal,
        placements: Sequence[Placement] = (Placement(THIS_MACHINE, 0),),
        run_limit_usd: Decimal | None = None,
        enforce_usd: bool = True,
        enforce_memory: bool = True,
    ) -> Placement:
        """Pay the hire fee and load the model's memory on one of `placements` (once per model
        and host), or raise BudgetExceeded; the placement chosen (see `BudgetState.place`).

        The fee is a charge of the run like its calls: it must fit the workspace budget and,
        given `run_limit_usd`, the run's cap; a $0 fee always fits (memory is still checked).
        The choice of host and the check are one transaction, so two hires racing for the last
        room on a host cannot both get it. Raises LedgerError when `agent` is already hired
        (the caller's mistake) or when there is no placement.
        """
        if not placements:
            raise LedgerError(f"No host to load {model} on for {agent!r}.")
        for placement in placements:
            _check_amounts(fee_usd=fee_usd, memory_bytes=placement.memory_bytes)
        fee = _nano(fee_usd, ROUND_HALF_EVEN)
        refusal = None
        with self._transaction("IMMEDIATE") as db:
            if agent in self._books.hires:
                raise LedgerError(f"{agent!r} is already hired; fire it first or pick a new name.")
            self._release_dead_holds(db)
            state = self._books.state(run_id)
            if enforce_usd:
                refusal = _usd_refusal(state, fee, f"hiring {agent!r}", run_limit_usd)
            chosen = state.place(model, placements) if enforce_memory else placements[0]
            if refusal is None and chosen is None:
                refusal = _memory_refusal(state, self._books.hires, agent, model, placements)
            if refusal is None and chosen is not None:
                self._append(
                    db,
                    "hire",
                    run_id=run_id,
                    agent=agent,
                    model=model,
                    provider=provider,
                    usd_nano=fee,
                    memory_bytes=chosen.memory_bytes,
                    host=chosen.host,
                )
        if refusal:
            raise BudgetExceeded(refusal)
        assert chosen is not None
        return chosen

    def fire(self, *, run_id: str, agent: str) -> None:
        """End a hire; its model's memory is freed when no active employee uses it any more.

        `run_id` is NO_RUN when no run fires it (the CLI, the app, a start-up reconciliation).
        """
        with self._transaction("IMMEDIATE") as db:
            hired = self._books.hires.get(agent)
            if hired is None:
                raise LedgerError(
                    f"{agent!r} is not hired, so it cannot be fired; see `hashiru agents`."
                )
            self._append(
                db,
                "fire",
                run_id=run_id,
                agent=agent,
                model=hired.model,
                provider=hired.provider,
                host=hired.host,
            )

    def adjust(self, *, usd: Decimal, note: str, run_id: str = NO_RUN) -> None:
        """A manual correction: positive spends, negative refunds."""
        with self._transaction("IMMEDIATE") as db:
            self._append(
                db, "adjust", run_id=run_id, usd_nano=_nano(usd, ROUND_HALF_EVEN), note=note
            )

    def state(self, run_id: str | None = None) -> BudgetState:
        """Both budgets now (and this run's spend and holds when `run_id` is given)."""
        with self._transaction("DEFERRED"):
            if not self._books.dead_holds():
                return self._books.state(run_id)
        with self._transaction("IMMEDIATE") as db:
            self._release_dead_holds(db)
            return self._books.state(run_id)

    def entries(
        self, run_id: str | None = None, *, after_id: int = 0, last: int | None = None
    ) -> list[Entry]:
        """Rows in the order written: all, one run's, those after a row, or only the `last`."""
        query = "SELECT * FROM entries WHERE id > ?"
        params: list[Any] = [after_id]
        if run_id is not None:
            query += " AND run_id = ?"
            params.append(run_id)
        query += " ORDER BY id DESC" + (" LIMIT ?" if last is not None else "")
        params += [last] if last is not None else []
        rows = self._file.connection().execute(query, params).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def spent_by(self, groups: Mapping[K, Iterable[str]]) -> dict[K, Decimal]:
        """What each group of runs spent together (each conversation's turns, say), in one read."""
        with self._transaction("DEFERRED"):
            by_run = self._books.spent_by_run
            return {
                key: _usd(sum(by_run.get(run_id, 0) for run_id in set(run_ids)))
                for key, run_ids in groups.items()
            }

    def active_hires(self) -> dict[str, Entry]:
        """Each employee still hired, by name, mapped to its hire row."""
        with self._transaction("DEFERRED"):
            return dict(self._books.hires)

    @contextmanager
    def _transaction(self, mode: Literal["DEFERRED", "IMMEDIATE"]) -> Iterator[sqlite3.Connection]:
        """One transaction with the books caught up on every committed row.

        IMMEDIATE takes the write lock before anything is read, so a check and the row it allows
        are atomic across processes; DEFERRED reads. The thread lock keeps other threads off the
        books until the transaction has ended.
        """
        db = self._file.connection()
        db.execute(f"BEGIN {mode}")
        with self._lock:
            try:
                self._catch_up(db)
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._books = _Books(self._defaults)  # it may hold rows now rolled back
                raise

    def _catch_up(self, db: sqlite3.Connection) -> None:
        query = "SELECT * FROM entries WHERE id > ? ORDER BY id"
        for row in db.execute(query, (self._books.last_id,)):
            self._books.apply(row)

    def _append(self, db: sqlite3.Connection, kind: Kind, **columns: Any) -> int:
        """Write one row (inside an IMMEDIATE transaction) and fold it into the books."""
        columns = {"at": datetime.now(UTC).isoformat(timespec="microseconds"), **columns}
        marks = ", ".join("?" * (len(columns) + 1))
        query = f"INSERT INTO entries (kind, {', '.join(columns)}) VALUES ({marks})"
        db.execute(query, (kind, *columns.values()))
        self._catch_up(db)
        return self._books.last_id

    def _check_open(self, db: sqlite3.Connection, reservation: Reservation) -> None:
        """LedgerError unless `reservation` is a hold in this ledger that nothing has closed yet."""
        if reservation.id in self._books.holds:
            return
        row = db.execute(
            "SELECT r.kind, c.kind, c.note FROM entries AS r "
            "LEFT JOIN entries AS c ON c.reservation = r.id WHERE r.id = ?",
            (reservation.id,),
        ).fetchone()
        if row is None or row[0] != "reserve":
            raise LedgerError(
                f"No reservation {reservation.id} in this ledger; settle or release only a "
                "Reservation that this ledger's reserve returned."
            )
        why = f" ({row[2]})" if row[2] else ""
        raise LedgerError(
            f"Reservation {reservation.id} was already {row[1]}d{why}; a hold closes once, so "
            "do not settle or release it again."
        )

    def _release_dead_holds(self, db: sqlite3.Connection) -> None:
        for hold in self._books.dead_holds():
            self._append(
                db,
                "release",
                **{name: hold[name] for name in ("run_id", "agent", "model", "provider")},
                reservation=hold["id"],
                note=DEAD_HOLDER_NOTE,
            )


class _Books:
    """The budgets folded from the rows read so far, each applied once in id order.

    The rows are append-only and writers take turns, so the rows after `last_id` are all that
    can have changed: catching up on them gives the same figures as adding up every row again.
    """

    def __init__(self, defaults: _Defaults) -> None:
        self.last_id = 0
        self.host_memory = defaults.host_memory
        self.budget = (defaults.usd_nano, defaults.memory_bytes)  # the latest budget row's
        self.spent_by_agent: dict[str, int] = {}
        self.spent_by_run: dict[str, int] = {}
        self.holds: dict[int, sqlite3.Row] = {}  # open reserve rows by id
        self.hires: dict[str, Entry] = {}  # active hire rows by agent

    def apply(self, row: sqlite3.Row) -> None:
        match row["kind"]:
            case "budget":
                self.budget = (row["usd_nano"], row["memory_bytes"])
            case "reserve":
                self.holds[row["id"]] = row
            case "release":
                del self.holds[row["reservation"]]
            case "settle":
                del self.holds[row["reservation"]]
                self._spend(row)
            case "hire":
                self.hires[row["agent"]] = _entry(row)
                self._spend(row)
            case "fire":
                del self.hires[row["agent"]]
            case "adjust":
                self._spend(row)
        self.last_id = row["id"]

    def _spend(self, row: sqlite3.Row) -> None:
        agent, run_id, nano = row["agent"], row["run_id"], row["usd_nano"]
        self.spent_by_agent[agent] = self.spent_by_agent.get(agent, 0) + nano
        self.spent_by_run[run_id] = self.spent_by_run.get(run_id, 0) + nano

    def state(self, run_id: str | None = None) -> BudgetState:
        total, memory_total = self.budget
        spent = sum(self.spent_by_agent.values())
        reserved = sum(hold["usd_nano"] for hold in self.holds.values())
        loaded = _loaded(self.hires.values())
        budgets = _budgets(loaded, {THIS_MACHINE: memory_total, **self.host_memory})
        machine = budgets[THIS_MACHINE]
        run: dict[str, Decimal] = {}
        if run_id is not None:
            run_holds = (h["usd_nano"] for h in self.holds.values() if h["run_id"] == run_id)
            run["run_spent"] = _usd(self.spent_by_run.get(run_id, 0))
            run["run_reserved"] = _usd(sum(run_holds))
        return BudgetState(
            usd_total=_usd(total),
            usd_spent=_usd(spent),
            usd_reserved=_usd(reserved),
            usd_free=_usd(total - spent - reserved),
            memory_total_bytes=machine.total_bytes,
            memory_used_bytes=machine.used_bytes,
            memory_free_bytes=machine.free_bytes,
            spent_by_agent={a: _usd(nano) for a, nano in self.spent_by_agent.items() if a},
            models_in_memory=machine.models,
            budgets=budgets,
            loaded=loaded,
            **run,
        )

    def dead_holds(self) -> list[sqlite3.Row]:
        """Open holds whose process no longer exists (killed mid-call): nobody will settle them."""
        mine = _holder(os.getpid())
        holders = {hold["holder"] for hold in self.holds.values()} - {mine}
        dead = {holder for holder in holders if not _alive(holder)}
        return [hold for hold in self.holds.values() if hold["holder"] in dead]


def _nano(usd: Decimal, rounding: str) -> int:
    return int(usd.quantize(Decimal("1e-9"), rounding=rounding).scaleb(9))


def _usd(nano: int) -> Decimal:
    return Decimal(nano) / 10**9


def _money(usd: Decimal) -> str:
    """Four decimals, or exactly where that would show a real amount as "$0.0000"."""
    shown = f"{usd:,.4f}"
    return f"${usd.normalize():f}" if usd and shown in ("0.0000", "-0.0000") else f"${shown}"


def _gib(memory_bytes: int) -> str:
    return f"{gib(memory_bytes)} GiB"


MAX_AMOUNT = 10**9
"""Dollars or bytes above this are refused: nano-dollars must fit SQLite's 64-bit integers."""


def _check_amounts(**values: Decimal | int | None) -> None:
    """LedgerError unless each given amount is a finite number from zero to MAX_AMOUNT (bytes:
    that many GiB)."""
    for name, value in values.items():
        if value is None:
            continue
        limit = MAX_AMOUNT * (2**30 if name.endswith("bytes") else 1)
        if not Decimal(value).is_finite() or not 0 <= value <= limit:
            raise LedgerError(f"{name} must be a finite amount from 0 to {limit:,}, got {value}.")


def _entry(row: sqlite3.Row) -> Entry:
    fields = dict(row)
    nano = fields.pop("usd_nano")
    return Entry(**fields, usd=None if nano is None else _usd(nano))


def _call_columns(reservation: Reservation) -> dict[str, Any]:
    return {
        "run_id": reservation.run_id,
        "agent": reservation.agent,
        "model": reservation.model,
        "provider": reservation.provider,
        "reservation": reservation.id,
    }


def _loaded(hires: Iterable[Entry]) -> dict[str, dict[str, int]]:
    """Host -> model -> bytes: each model once per host, however many employees share it."""
    loaded: dict[str, dict[str, int]] = {}
    for hire in hires:
        if hire.memory_bytes:
            models = loaded.setdefault(hire.host, {})
            models[hire.model] = max(models.get(hire.model, 0), hire.memory_bytes)
    return loaded


def _budgets(loaded: dict[str, dict[str, int]], totals: dict[str, int]) -> dict[str, HostMemory]:
    """Each memory budget with what its hosts hold: a host with no budget of its own (absent
    from `totals`) loads on this machine's."""
    models: dict[str, dict[str, int]] = {budget: {} for budget in totals}
    for host, held in loaded.items():
        pool = models[host if host in totals else THIS_MACHINE]
        for model, size in held.items():
            pool[model] = pool.get(model, 0) + size
    return {
        budget: HostMemory(
            total_bytes=total,
            used_bytes=sum(models[budget].values()),
            free_bytes=total - sum(models[budget].values()),
            models=models[budget],
        )
        for budget, total in totals.items()
    }


@cache
def _holder(pid: int) -> str:
    """Names a process so that a later one reusing its pid is not mistaken for it."""
    return f"{pid}:{psutil.Process(pid).create_time():.3f}"


def _alive(holder: str) -> bool:
    pid, _, started = holder.partition(":")
    try:
        process = psutil.Process(int(pid))
        # create_time follows the wall clock's boot time, which clock steps move slightly.
        same = abs(process.create_time() - float(started)) < 1
        return same and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False
    except psutil.AccessDenied:  # exists, just not ours to inspect
        return True


def _usd_refusal(state: BudgetState, nano: int, what: str, run_limit: Decimal | None) -> str | None:
    """Why `nano` does not fit the workspace budget or the run's cap, or None when it fits.

    Free work always fits, however far past a total the spend is: the CEO must be able to
    finish on local models, which is what every refusal tells it to do.
    """
    if nano == 0:
        return None
    usd = _usd(nano)
    return _expense_refusal(state, usd, what) or _run_refusal(state, usd, what, run_limit)


def _expense_refusal(state: BudgetState, usd: Decimal, what: str) -> str | None:
    if usd <= state.usd_free:
        return None
    return (
        f"Budget exceeded: {what} needs up to {_money(usd)}, but only "
        f"{_money(max(state.usd_free, Decimal(0)))} of the {_money(state.usd_total)} budget is "
        f"free ({_money(state.usd_spent)} spent, {_money(state.usd_reserved)} held for calls in "
        "flight). Finish with what you have, or use a local employee, which costs nothing."
    )


def _run_refusal(state: BudgetState, usd: Decimal, what: str, limit: Decimal | None) -> str | None:
    assert state.run_spent is not None and state.run_reserved is not None
    left = None if limit is None else limit - state.run_spent - state.run_reserved
    if left is None or usd <= left:
        return None
    return (
        f"Run limit exceeded: {what} needs up to {_money(usd)}, but this run may spend "
        f"{_money(limit)} and has used {_money(state.run_spent)} (plus "
        f"{_money(state.run_reserved)} held), leaving {_money(max(left, Decimal(0)))}. Finish "
        "with what you have, or use a local employee, which costs nothing."
    )


def _memory_refusal(
    state: BudgetState,
    active: dict[str, Entry],
    agent: str,
    model: str,
    placements: Sequence[Placement],
) -> str:
    """Why `model` fits on none of `placements`, naming the employees to fire on the host
    with the most room."""
    best = max(
        placements, key=lambda p: state.budget_of(p.host).free_bytes - state.needed(model, p)
    )
    pool = state.pool_of(best.host)
    budget = state.budgets[pool]
    where = "" if best.host == THIS_MACHINE else f" on {best.host}"
    if len(placements) > 1:
        where = f" on any of the {len(placements)} hosts that have it (most room{where})"
    loaded = {m: size for m, size in budget.models.items()}
    employees: dict[str, list[str]] = {}
    for name, hire in active.items():
        if hire.memory_bytes and state.pool_of(hire.host) == pool:
            employees.setdefault(hire.model, []).append(repr(name))
    by_size = sorted(employees, key=loaded.__getitem__, reverse=True)
    candidates = "; ".join(
        f"{', '.join(employees[m])} ({m}, frees {_gib(loaded[m])} once all its employees are fired)"
        for m in by_size
    )
    return (
        f"Not enough memory to hire {agent!r} on {model}{where}: it needs "
        f"{_gib(state.needed(model, best))}, but only {_gib(max(budget.free_bytes, 0))} of "
        f"{_gib(budget.total_bytes)} is free. "
        + (f"Fire employees to make room: {candidates}. " if candidates else "")
        + "Or hire on a model that is already loaded, or on a cloud model."
    )
