"""SVAMP: 1,000 one-unknown arithmetic word problems with varied structure (MIT).

The question is `Body + " " + Question`; the gold is `Answer` (a float such as 51.0).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.hashirubench import numeric
from bench.hashirubench.data import DataFile, locate
from bench.hashirubench.items import Item

NAME = "svamp"
DATA = DataFile(
    folder="svamp",
    name="SVAMP.json",
    url="https://raw.githubusercontent.com/arkilpatel/SVAMP/main/SVAMP.json",
    licence="MIT, arkilpatel/SVAMP",
)
prompt = numeric.prompt
score = numeric.score


def load(data_dir: Path) -> list[Item]:
    rows = json.loads(locate(data_dir, DATA).read_text("utf-8"))
    return [
        Item(
            id=row["ID"],
            question=f"{row['Body'].strip()} {row['Question'].strip()}",
            gold=str(row["Answer"]),
        )
        for row in rows
    ]
