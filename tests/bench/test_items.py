"""Loaders on hand-made files in the real formats, seeded sampling, and fetching data."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.hashirubench.data import BenchError, DataFile, download, locate
from bench.hashirubench.items import Item, seeded_order
from bench.hashirubench.tasks import TASKS
from tests.bench.quiz import ITEMS


def test_loaders_read_the_published_formats(data_dir: Path) -> None:
    gsm8k, svamp, jee = (TASKS[name].load(data_dir) for name in ("gsm8k", "svamp", "jeebench"))
    assert [len(gsm8k), len(svamp), len(jee)] == [ITEMS] * 3
    assert gsm8k[3] == Item("test-3", "Question number 3: how many?", "3,007")
    assert svamp[3] == Item("chal-3", "Question number 3: there are apples. How many?", "3007.0")
    assert jee[3].id == "JEE Adv 2016 Paper 1 #4"
    assert (jee[3].gold, jee[3].type) == ("ACD", "MCQ(multiple)")


ITEM_LISTS = st.lists(st.integers(), unique=True, max_size=40).map(
    lambda ns: [Item(str(n), "q", "1") for n in ns]
)


@given(ITEM_LISTS, st.integers(), st.integers(0, 40), st.integers(0, 40))
def test_a_larger_limit_extends_a_smaller_one(items, seed, small, large) -> None:
    small, large = sorted((small, large))
    assert seeded_order(items, seed, small) == seeded_order(items, seed, large)[:small]
    assert sorted(seeded_order(items, seed), key=items.index) == items  # a permutation


def test_the_order_depends_on_the_seed_only() -> None:
    items = [Item(str(n), "q", "1") for n in range(50)]
    assert seeded_order(items, 0) == seeded_order(list(items), 0)
    assert seeded_order(items, 0) != seeded_order(items, 1)


def test_download_fetches_a_missing_file_once(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text("[]")
    data = DataFile("svamp", "SVAMP.json", source.as_uri(), "MIT")  # file: URLs, no network
    data_dir = tmp_path / "data"
    with pytest.raises(BenchError, match="--download"):
        locate(data_dir, data)

    assert download(data_dir, data).read_text() == "[]"
    source.write_text("changed")
    assert download(data_dir, data).read_text() == "[]", "a present file is kept"
    assert locate(data_dir, data) == data_dir / "svamp" / "SVAMP.json"


def test_a_failed_download_says_which_url(tmp_path: Path) -> None:
    data = DataFile("gsm8k", "test.jsonl", (tmp_path / "absent").as_uri(), "MIT")
    with pytest.raises(BenchError, match="Could not download file:"):
        download(tmp_path, data)
    assert not (tmp_path / "gsm8k" / "test.jsonl").exists()
