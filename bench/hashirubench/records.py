"""One run's results on disk: a JSONL file of item records and a metadata sidecar.

The JSONL file is append-only: a re-run appends, and the last record of an id wins. Only
records without an error count as done, so a re-run retries failed items and skips the rest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

from pydantic import BaseModel, Field

from bench.hashirubench.data import BenchError


class Employee(BaseModel):
    name: str
    model: str


class EmployeeScore(BaseModel):
    """One employee answer of an item, scored against the item's gold as the CEO's reply is.

    `ask_id` is the answer's ask in the workspace's scorecard (`Hashiru.outcomes`), by which
    `bench run --learn` rates it; `model` is the model the employee was hired on.
    """

    agent: str
    model: str
    kind: str
    ask_id: int | None
    response: str  # the employee's whole answer
    prediction: str  # the answer extracted from it
    score: float

    @property
    def right(self) -> bool:
        """Solved: full marks. JEEBench's partial credit is not right, as in the report's pairs."""
        return self.score >= 1


class Record(BaseModel):
    """What one item cost and scored. A failed item keeps what its run spent before it failed;
    `expense_usd` is None only in records written before failures carried their spend.
    `run_id` finds the item's rows in the ledger (`hashiru ledger`); `answers` are the
    employees' answers (a HASHIRU run's), each scored against the gold."""

    id: str
    run_id: str | None = None
    prompt: str
    response: str  # the whole reply
    prediction: str  # the answer extracted from it
    gold: str
    score: float
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    expense_usd: Decimal | None = None
    resource_gib_used: Decimal | None = None
    employees: list[Employee] = Field(default_factory=list)
    answers: list[EmployeeScore] = Field(default_factory=list)
    tool_calls: list[str] = Field(default_factory=list)
    steps: int = 0
    error: str | None = None


class Invocation(BaseModel):
    started: datetime
    hashiru_version: str
    limit: int | None
    concurrency: int
    budget_usd: Decimal | None
    record: str | None = None  # the cassettes folder it recorded into (--record)
    replay: str | None = None  # or the one it was played back from (--replay): it spent $0


class RunMeta(BaseModel):
    """Which run a results file holds; checked on resume so one file is one sample."""

    task: str
    system: str
    model: str
    seed: int
    data_file: str
    created: datetime
    invocations: list[Invocation] = Field(default_factory=list)


class Results:
    """The files of one (task, system, model) run in `out`."""

    def __init__(self, out: Path, task: str, system: str, model: str) -> None:
        stem = f"{task}-{system}-{_safe(model)}"
        self.path = out / f"{stem}.jsonl"
        self.meta_path = out / f"{stem}.meta.json"

    @classmethod
    def from_meta(cls, meta_path: Path) -> Results:
        meta = RunMeta.model_validate_json(meta_path.read_text("utf-8"))
        return cls(meta_path.parent, meta.task, meta.system, meta.model)

    def meta(self) -> RunMeta:
        return RunMeta.model_validate_json(self.meta_path.read_text("utf-8"))

    def start(self, meta: RunMeta, invocation: Invocation) -> None:
        """Write the sidecar, or add this invocation to it; refuse to mix two samples."""
        if self.meta_path.is_file():
            recorded = self.meta()
            if recorded.seed != meta.seed:
                raise BenchError(
                    f"{self.path} holds a sample drawn with --seed {recorded.seed}; "
                    "use that seed to resume it, or another --out for a new sample."
                )
            meta = recorded
        meta.invocations.append(invocation)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.meta_path.write_text(meta.model_dump_json(indent=2) + "\n", "utf-8")

    def records(self) -> dict[str, Record]:
        """The latest record of each item id."""
        return {record.id: record for record in self.every_record()}

    def every_record(self) -> list[Record]:
        """Every record written, superseded ones too (a failed item's employees answered)."""
        if not self.path.is_file():
            return []
        lines = self.path.read_text("utf-8").splitlines()
        return [Record.model_validate_json(line) for line in lines if line.strip()]

    def done(self) -> dict[str, Record]:
        """The items recorded without an error: a re-run skips these and retries the rest."""
        return {key: record for key, record in self.records().items() if record.error is None}

    def append(self, record: Record) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(record.model_dump_json() + "\n")


def new_meta(task: str, system: str, model: str, seed: int, data_file: Path) -> RunMeta:
    return RunMeta(
        task=task,
        system=system,
        model=model,
        seed=seed,
        data_file=str(data_file),
        created=datetime.now(UTC),
    )


def invocation(
    limit: int | None,
    concurrency: int,
    budget_usd: Decimal | None,
    record: Path | None = None,
    replay: Path | None = None,
) -> Invocation:
    return Invocation(
        started=datetime.now(UTC),
        hashiru_version=version("hashiru"),
        limit=limit,
        concurrency=concurrency,
        budget_usd=budget_usd,
        record=str(record) if record is not None else None,
        replay=str(replay) if replay is not None else None,
    )


def _safe(model: str) -> str:
    """A model ref as a file-name part: `gemini:gemini-2.0-flash` -> `gemini_gemini-2.0-flash`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")[-80:]
