"""A data directory of hand-made quiz items, and the bench CLI run in-process on it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bench.__main__ import main
from hashiru.providers import Provider
from tests.bench.priced_gemini import gemini  # noqa: F401 - a fixture, for every bench test
from tests.bench.quiz import write_data


class Bench:
    """`python -m bench ...` in this process, with extra model backends (scripted ones)."""

    def __init__(self, data_dir: Path, out: Path) -> None:
        self.data_dir = data_dir
        self.out = out

    def run(
        self, task: str, system: str, model: str, *args: str, providers: Sequence[Provider] = ()
    ) -> int:
        where = ["--data-dir", str(self.data_dir), "--out", str(self.out)]
        command = ["run", task, "--system", system, "--model", model, *where, *args]
        return main(command, providers=providers)

    def report(self, *args: str) -> int:
        return main(["report", *(args or [str(self.out)])])

    def records(self, task: str, system: str, model: str) -> list[dict]:
        path = self.out / f"{task}-{system}-{model.replace(':', '_')}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def summary(self) -> dict:
        return json.loads((self.out / "summary.json").read_text())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_data(tmp_path / "data")


@pytest.fixture
def bench(data_dir: Path, tmp_path: Path) -> Bench:
    return Bench(data_dir, tmp_path / "results")
