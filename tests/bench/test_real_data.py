"""The loaders and scorers on the real data sets in ../shared/bench-data, where present."""

from __future__ import annotations

import pytest

from bench.hashirubench.answers import extract_final_answer, last_number, option_letters
from bench.hashirubench.data import SHARED_DATA
from bench.hashirubench.tasks import TASKS

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no {SHARED_DATA}")
SIZES = {"gsm8k": 1319, "svamp": 1000, "jeebench": 515}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_item_loads_with_a_unique_id_and_a_readable_gold(name: str) -> None:
    task = TASKS[name]
    items = task.load(SHARED_DATA)
    assert len(items) == len({item.id for item in items}) == SIZES[name]
    for item in items:
        if item.type.startswith("MCQ"):
            assert option_letters(item.gold) and item.gold.isalpha()
        else:
            assert last_number(item.gold) is not None
        reply = f"Because...\n**FINAL ANSWER:** {item.gold}."
        assert task.score(item, extract_final_answer(reply)) == 1.0, item.id
