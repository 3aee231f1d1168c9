"""GSM8K's test split: 1,319 grade-school word problems (openai/grade-school-math, MIT).

The gold answer is what follows `####` in the solution. Ids are the 0-based line numbers, so
they are stable for resuming and pairing.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.hashirubench import numeric
from bench.hashirubench.data import DataFile, locate
from bench.hashirubench.items import Item

NAME = "gsm8k"
DATA = DataFile(
    folder="gsm8k",
    name="test.jsonl",
    url="https://raw.githubusercontent.com/openai/grade-school-math/master/"
    "grade_school_math/data/test.jsonl",
    licence="MIT, openai/grade-school-math",
)
prompt = numeric.prompt
score = numeric.score


def load(data_dir: Path) -> list[Item]:
    lines = locate(data_dir, DATA).read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [
        Item(id=f"test-{n}", question=row["question"], gold=row["answer"].split("####")[-1].strip())
        for n, row in enumerate(rows)
    ]
