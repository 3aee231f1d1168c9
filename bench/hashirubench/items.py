"""A benchmark item, and the seeded order in which a run takes items."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One question: a stable id (for resuming and pairing), the question and its gold answer;
    `type` is the answer kind where a task has several (JEEBench: MCQ, Integer, ...)."""

    id: str
    question: str
    gold: str
    type: str = ""


def seeded_order(items: list[Item], seed: int, limit: int | None = None) -> list[Item]:
    """The first `limit` items of one seeded shuffle, the same for both arms.

    The whole data set is shuffled and then cut, so a larger limit extends a smaller one
    (`random.sample` with a different k would draw a different sample altogether).
    """
    order = random.Random(seed).sample(items, len(items))
    return order if limit is None else order[:limit]
