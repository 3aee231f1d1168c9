"""What each employee's answers were worth: one outcome per ask, and the verdicts on it.

Why a record of its own: the ledger knows what an ask cost and how long it took, but not whether
the answer was any good. Every `ask_agent` call leaves an *ask* row (model, task kind, tokens,
dollars, seconds, and `failed` when the call errored or gave nothing); verdicts on it come later
and from elsewhere: the CEO's `rate_agent` after it checked the answer, HASHIRUBench's scorer
against a gold answer, a person. The scorecard (`scorecard`) is derived from these rows on
every read, so there is no running tally to drift.

Why one verdict per source: a verdict is evidence, and an ask rated twice by the same judge
would count twice. Ground truth outranks opinion: an ask's verdict is the benchmark's where
there is one, else the person's, else the CEO's.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from hashiru.errors import HashiruError, OutcomeError
from hashiru.messages import Usage
from hashiru.sqlite import SQLiteFile

SCHEMA_VERSION = 1

Kind = Literal["math", "code", "writing", "reasoning", "knowledge", "other"]
KINDS: tuple[str, ...] = get_args(Kind)
"""The task kinds an ask may be filed under: few, so each gathers evidence quickly."""

Rating = Literal["good", "bad"]
Verdict = Literal["good", "bad", "failed"]
Source = Literal["ceo", "bench", "user"]
SOURCE_RANK: dict[str, int] = {"bench": 0, "user": 1, "ceo": 2}
"""Which verdict an ask takes when several judged it: ground truth first, the CEO's last."""

Z_95 = 1.959964  # the normal quantile of a two-sided 95% interval

_SCHEMA = (
    """
    CREATE TABLE asks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        run_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        usd_nano INTEGER NOT NULL,
        seconds REAL NOT NULL,
        failed INTEGER NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        verdict TEXT,
        verdict_source TEXT
    )
    """,
    "CREATE INDEX asks_by_run ON asks(run_id, agent)",
    # Covering: a scorecard line is summed from this index alone, never the table.
    "CREATE INDEX asks_by_kind ON asks(kind, model, verdict, usd_nano, seconds, input_tokens, "
    "output_tokens)",
    """
    CREATE TABLE verdicts (
        ask INTEGER NOT NULL REFERENCES asks(id),
        source TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),
        note TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        PRIMARY KEY (ask, source)
    )
    """,
)

_RANKED = " ".join(f"WHEN '{source}' THEN {rank}" for source, rank in SOURCE_RANK.items())
_STANDING = f"""
    UPDATE asks SET (verdict, verdict_source) = (
        SELECT verdict, source FROM verdicts WHERE ask = asks.id
        ORDER BY CASE source {_RANKED} END LIMIT 1
    ) WHERE id = ?
"""
"""Sets an ask's standing verdict to its top-ranked judge's, in the transaction that adds a
verdict: the scorecard then reads one row per ask (a failed ask is 'failed' from the start)."""


class Ask(BaseModel):
    """One `ask_agent` call's outcome and the verdict it stands at (None: nobody judged it)."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    run_id: str
    agent: str
    model: str
    kind: str
    input_tokens: int
    output_tokens: int
    usd: Decimal
    seconds: float
    failed: bool
    note: str
    verdict: Verdict | None
    verdict_source: str | None


class ScoreLine(BaseModel):
    """One model's record on one kind of task: how often it was right, and what an ask cost.

    `success_rate` is good / judged (judged = good + bad + failed; unjudged asks count toward
    cost, not toward success), with its 95% Wilson interval, which stays honest for few asks.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    kind: str
    asks: int
    good: int
    bad: int
    failed: int
    mean_usd: Decimal
    mean_seconds: float
    mean_input_tokens: int
    mean_output_tokens: int

    @property
    def judged(self) -> int:
        return self.good + self.bad + self.failed

    @property
    def unjudged(self) -> int:
        return self.asks - self.judged

    @property
    def success_rate(self) -> float | None:
        return self.good / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.good, self.judged) if self.judged else None

    def summary(self) -> dict[str, Any]:
        """The record as the CEO's tools and `--json` give it."""
        low_high = self.interval
        return self.model_dump() | {
            "unjudged": self.unjudged,
            "success_rate": None if self.success_rate is None else round(self.success_rate, 3),
            "interval_95": None if low_high is None else [round(x, 3) for x in low_high],
        }


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a success rate: never outside [0, 1], sensible at n = 1."""
    if trials <= 0:
        raise ValueError("a success rate needs at least one trial")
    p = successes / trials
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    centre = p + z * z / (2 * trials)
    scale = 1 + z * z / trials
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise OutcomeError(f"Unknown task kind {kind!r}; use one of: {', '.join(KINDS)}.")
    return kind


class Outcomes:
    """The asks and their verdicts in one SQLite file, shared by threads, tasks and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = SQLiteFile(path)
        try:
            version = self._file.create(_SCHEMA, SCHEMA_VERSION)
        except sqlite3.DatabaseError as exc:
            raise HashiruError(
                f"{path} is damaged ({exc}); move it away to start a new scorecard."
            ) from None
        if version > SCHEMA_VERSION:
            raise HashiruError(
                f"The scorecard {path} has schema version {version}, newer than this HASHIRU "
                f"understands ({SCHEMA_VERSION}); upgrade hashiru."
            )

    def record_ask(
        self,
        *,
        run_id: str,
        agent: str,
        model: str,
        kind: str,
        usage: Usage,
        usd: Decimal,
        seconds: float,
        failed: bool = False,
        note: str = "",
    ) -> int:
        """File one ask; returns its id, by which it is rated."""
        check_kind(kind)
        nano = int(usd.quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN).scaleb(9))
        with self._file.transaction("IMMEDIATE") as db:
            cursor = db.execute(
                "INSERT INTO asks (at, run_id, agent, model, kind, input_tokens, output_tokens, "
                "usd_nano, seconds, failed, note, verdict) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    run_id,
                    agent,
                    model,
                    kind,
                    usage.input_tokens,
                    usage.output_tokens,
                    nano,
                    seconds,
                    failed,
                    note,
                    "failed" if failed else None,
                ),
            )
            return int(cursor.lastrowid or 0)

    def rate(self, ask_id: int, verdict: str, source: str, note: str = "") -> Ask:
        """Judge ask `ask_id` good or bad as `source`; OutcomeError for an unknown or failed ask,
        a bad verdict or source, or an ask this source has judged already."""
        if verdict not in get_args(Rating):
            raise OutcomeError(f"A verdict is 'good' or 'bad', got {verdict!r}.")
        if source not in SOURCE_RANK:
            raise OutcomeError(f"A verdict's source is one of {', '.join(SOURCE_RANK)}.")
        with self._file.transaction("IMMEDIATE") as db:
            ask = _one(db, ask_id)
            if ask is None:
                raise OutcomeError(f"No ask {ask_id} in the scorecard.")
            if ask.failed:
                raise OutcomeError(
                    f"Ask {ask_id} ({ask.agent}) failed ({ask.note}); it already counts as "
                    "failed, so there is no answer to rate."
                )
            try:
                db.execute(
                    "INSERT INTO verdicts (ask, source, verdict, note, at) VALUES (?, ?, ?, ?, ?)",
                    (ask_id, source, verdict, note, _now()),
                )
            except sqlite3.IntegrityError:
                raise OutcomeError(
                    f"Ask {ask_id} ({ask.agent}'s answer) was already rated by {source}; an "
                    "answer is rated once. Ask again to rate a new answer."
                ) from None
            db.execute(_STANDING, (ask_id,))
            return _one(db, ask_id)  # type: ignore[return-value]

    def asks(
        self,
        *,
        run_id: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        last: int | None = None,
    ) -> list[Ask]:
        """Asks in the order made: all, or those of a run, an employee, a model, since a time;
        only the `last` ones when given."""
        where, params = _filters(run_id=run_id, agent=agent, model=model)
        if since is not None:
            where.append("at >= ?")
            params.append(since.astimezone(UTC).isoformat(timespec="microseconds"))
        query = f"SELECT * FROM asks {_where(where)} ORDER BY id DESC"
        if last is not None:
            query += " LIMIT ?"
            params.append(last)
        rows = self._file.connection().execute(query, params).fetchall()
        return [_ask(row) for row in reversed(rows)]

    def scorecard(self, kind: str | None = None, models: Iterable[str] = ()) -> list[ScoreLine]:
        """Each model's record per kind (or on `kind` only, or for `models` only), best first."""
        where, params = _filters(kind=None if kind is None else check_kind(kind))
        wanted = list(models)
        if wanted:
            where.append(f"model IN ({', '.join('?' * len(wanted))})")
            params += wanted
        columns = (
            "model, kind, COUNT(*) AS asks, SUM(verdict = 'good') AS good, "
            "SUM(verdict = 'bad') AS bad, SUM(verdict = 'failed') AS failed, "
            "SUM(usd_nano) AS usd_nano, SUM(seconds) AS seconds, "
            "SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens"
        )
        query = f"SELECT {columns} FROM asks {_where(where)} GROUP BY model, kind"
        rows = self._file.connection().execute(query, params).fetchall()
        lines = [_line(row) for row in rows]
        return sorted(lines, key=lambda x: (x.kind, -(x.success_rate or 0), -x.asks, x.model))

    def judged_bad(self, run_id: str, kind: str) -> set[str]:
        """The models this run has seen fail or judged bad on `kind`: another pick is wanted."""
        rows = (
            self._file.connection()
            .execute(
                # `+kind`: found by the run's index, not the kind's
                "SELECT DISTINCT model FROM asks "
                "WHERE run_id = ? AND +kind = ? AND verdict IN ('bad', 'failed')",
                (run_id, check_kind(kind)),
            )
            .fetchall()
        )
        return {row["model"] for row in rows}


def _filters(**values: str | None) -> tuple[list[str], list[Any]]:
    given = {name: value for name, value in values.items() if value is not None}
    return [f"{name} = ?" for name in given], list(given.values())


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _one(db: sqlite3.Connection, ask_id: int) -> Ask | None:
    row = db.execute("SELECT * FROM asks WHERE id = ?", (ask_id,)).fetchone()
    return None if row is None else _ask(row)


def _ask(row: sqlite3.Row) -> Ask:
    fields = dict(row)
    nano = fields.pop("usd_nano")
    return Ask(**fields, usd=Decimal(nano) / 10**9)


def _line(row: sqlite3.Row) -> ScoreLine:
    asks = row["asks"]
    mean_usd = (Decimal(row["usd_nano"]) / 10**9 / asks).quantize(Decimal("1e-9"))
    return ScoreLine(
        model=row["model"],
        kind=row["kind"],
        asks=asks,
        good=row["good"] or 0,
        bad=row["bad"] or 0,
        failed=row["failed"] or 0,
        mean_usd=mean_usd.normalize() if mean_usd else Decimal(0),
        mean_seconds=round(row["seconds"] / asks, 3),
        mean_input_tokens=row["input_tokens"] // asks,
        mean_output_tokens=row["output_tokens"] // asks,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
