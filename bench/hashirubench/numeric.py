"""The numeric-answer tasks' shared prompt and scorer (GSM8K and SVAMP).

The answer is a number; prediction and gold compare equal after normalisation (thousands
commas, units and `$` around it, trailing `.0`), never by substring.
"""

from __future__ import annotations

from bench.hashirubench.answers import final_answer_instruction, same_number
from bench.hashirubench.items import Item


def prompt(item: Item) -> str:
    instruction = final_answer_instruction("the number only, without units")
    return f"Solve this math word problem.\n\n{item.question}\n\n{instruction}"


def score(item: Item, prediction: str) -> float:
    return float(same_number(prediction, item.gold))
