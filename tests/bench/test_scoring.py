"""The tasks' scorers on hand-made cases, JEEBench's official rules included."""

from __future__ import annotations

import pytest

from bench.hashirubench.items import Item
from bench.hashirubench.tasks import gsm8k, jeebench, svamp


@pytest.mark.parametrize("task", [gsm8k, svamp])
@pytest.mark.parametrize(
    ("prediction", "score"),
    [("1200", 1.0), ("1,200", 1.0), ("1200.0", 1.0), ("$1,200 in total", 1.0), ("1201", 0.0)],
)
def test_numeric_tasks_compare_normalised_numbers(task, prediction: str, score: float) -> None:
    assert task.score(Item("x", "q", "1,200"), prediction) == score


def jee(kind: str, gold: str) -> Item:
    return Item("x", "q", gold, kind)


@pytest.mark.parametrize(
    ("kind", "gold", "prediction", "score"),
    [
        ("MCQ", "B", "B", 1.0),
        ("MCQ", "B", "(b)", 1.0),
        ("MCQ", "B", "B, C", 0.0),
        ("MCQ", "B", "", 0.0),
        ("MCQ(multiple)", "ACD", "ACD", 1.0),
        ("MCQ(multiple)", "ACD", "D, C and A", 1.0),
        ("MCQ(multiple)", "ACD", "AC", 0.5),  # 0.25 per right letter, none wrong
        ("MCQ(multiple)", "ACD", "D", 0.25),
        ("MCQ(multiple)", "ACD", "AB", 0.0),  # one wrong letter loses everything
        ("MCQ(multiple)", "ACD", "ABCD", 0.0),
        ("MCQ(multiple)", "ACD", "", 0.0),
        ("Integer", "7", "7", 1.0),
        ("Integer", "7", "7.00", 1.0),
        ("Integer", "7", "8", 0.0),
        ("Integer", "7", "", 0.0),
        ("Numeric", "2.35", "2.36", 1.0),  # within 0.01, the boundary included
        ("Numeric", "2.35", "2.34", 1.0),
        ("Numeric", "2.35", "2.345", 1.0),
        ("Numeric", "2.35", "\\frac{47}{20}", 1.0),
        ("Numeric", "2.35", "2.3601", 0.0),
        ("Numeric", "2.35", "2.3", 0.0),
        ("Numeric", "-11.62", "-11.62", 1.0),
        ("Numeric", "0.2", "0.19", 1.0),  # exact arithmetic: float says 0.010000000000000009
    ],
)
def test_jeebench_official_rules(kind: str, gold: str, prediction: str, score: float) -> None:
    assert jeebench.score(jee(kind, gold), prediction) == score


@pytest.mark.parametrize("kind", ["MCQ", "MCQ(multiple)", "Integer", "Numeric"])
def test_jeebench_prompts_ask_for_a_final_answer_line(kind: str) -> None:
    prompt = jeebench.prompt(jee(kind, "A"))
    assert prompt.startswith("q\n\n")
    assert "FINAL ANSWER: <answer>" in prompt


def test_numeric_tasks_share_one_prompt() -> None:
    item = Item("x", "How many?", "3")
    assert gsm8k.prompt(item) == svamp.prompt(item)
    assert "How many?" in gsm8k.prompt(item)
