"""The task registry: each task is one small module with a loader, a prompt and a scorer.

A new task (ARC, StrategyQA, MMLU-Pro, ...) is a module with the `Task` attributes, added to
TASKS. Both arms call the same `prompt` and `score`, so a task cannot favour one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bench.hashirubench.data import DataFile
from bench.hashirubench.items import Item
from bench.hashirubench.tasks import gsm8k, jeebench, svamp


class Task(Protocol):
    NAME: str
    DATA: DataFile

    def load(self, data_dir: Path) -> list[Item]: ...

    def prompt(self, item: Item) -> str: ...

    def score(self, item: Item, prediction: str) -> float: ...


TASKS: dict[str, Task] = {task.NAME: task for task in (gsm8k, svamp, jeebench)}
