"""JEEBench: 515 JEE Advanced problems in physics, chemistry and mathematics (MIT).

Scored by the official rules of its `compute_metrics.py`: MCQ, the chosen set of letters
equals the gold set; MCQ(multiple), 1 for the exact set, 0.25 per chosen letter when no chosen
letter is wrong, else 0; Integer and Numeric, 1 when |gold - answer| <= 0.01 (decided in exact
decimal arithmetic), 0 for no number.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from bench.hashirubench.answers import final_answer_instruction, last_number, option_letters
from bench.hashirubench.data import DataFile, locate
from bench.hashirubench.items import Item

NAME = "jeebench"
DATA = DataFile(
    folder="jeebench",
    name="dataset.json",
    url="https://raw.githubusercontent.com/dair-iitd/jeebench/main/data/dataset.json",
    licence="MIT, dair-iitd/jeebench",
)
TOLERANCE = Fraction(1, 100)
_INSTRUCTIONS = {
    "MCQ": ("Exactly one option is correct.", "the letter of the correct option, e.g. B"),
    "MCQ(multiple)": (
        "One or more options are correct.",
        "the letters of all the correct options, e.g. ACD",
    ),
    "Integer": ("The answer is a non-negative integer.", "the integer"),
    "Numeric": (
        "The answer is a number; give it correct to 2 decimal places.",
        "the number, without units",
    ),
}


def load(data_dir: Path) -> list[Item]:
    rows = json.loads(locate(data_dir, DATA).read_text("utf-8"))
    return [
        Item(
            id=f"{row['description']} #{row['index']}",
            question=row["question"],
            gold=row["gold"],
            type=row["type"],
        )
        for row in rows
    ]


def prompt(item: Item) -> str:
    rule, what = _INSTRUCTIONS[item.type]
    return f"{item.question}\n\n{rule} {final_answer_instruction(what)}"


def score(item: Item, prediction: str) -> float:
    if item.type == "MCQ":
        return float(option_letters(prediction) == option_letters(item.gold))
    if item.type == "MCQ(multiple)":
        chosen, gold = option_letters(prediction), option_letters(item.gold)
        if chosen == gold:
            return 1.0
        return 0.25 * len(chosen) if chosen <= gold else 0.0
    answer = last_number(prediction)
    return float(answer is not None and abs(answer - Fraction(item.gold)) <= TOLERANCE)
