"""Reading final answers out of messy replies, and comparing numbers exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bench.hashirubench.answers import (
    extract_final_answer,
    last_number,
    option_letters,
    same_number,
)


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("Some steps.\nFINAL ANSWER: 42", "42"),
        ("**FINAL ANSWER:** 42.", "42"),
        ("**Final Answer: $1,234$**", "1,234"),
        ("final answer\uff1a 7", "7"),  # a full-width colon
        ("FINAL ANSWER: \\boxed{18}", "18"),
        ("FINAL ANSWER: $\\boxed{\\text{(B)}}$", "(B)"),
        ("Final answer:\n\n  **17**  \n", "17"),  # on the next line
        ("FINAL ANSWER: 3\nOn reflection...\nFINAL ANSWER: 5", "5"),  # the last one counts
        ("So it is \\boxed{\\frac{1}{2}} and \\boxed{9}.", "9"),  # no line: the last box
        ("The answer is 12 apples.", "The answer is 12 apples"),  # neither: the whole reply
        ("`FINAL ANSWER: 0.5`", "0.5"),
        ("", ""),
    ],
)
def test_extract_final_answer(reply: str, answer: str) -> None:
    assert extract_final_answer(reply) == answer


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("18", 18),
        ("$18.00", 18),
        ("1,450,000 dollars", 1_450_000),
        ("-7", -7),
        ("\u22125", -5),  # a typographic minus
        ("5-3", 3),  # subtraction, not -3
        ("3/4 of a pie", Fraction(3, 4)),
        ("\\frac{47}{20}", Fraction(47, 20)),
        ("10%", 10),
        ("2.5 litres.", Fraction(5, 2)),
        ("x1 and 4", 4),
        ("1/0", None),
        ("no number", None),
    ],
)
def test_last_number(text: str, number: Fraction | None) -> None:
    assert last_number(text) == number


@pytest.mark.parametrize(
    ("prediction", "gold", "same"),
    [
        ("2125", "2,125", True),
        ("18 dollars", "18", True),
        ("51", "51.0", True),  # SVAMP's golds are floats
        ("51.5", "51.0", False),
        ("The total is 4 + 3 = 7", "7", True),  # the last number
        ("", "7", False),
        ("seven", "7", False),
    ],
)
def test_same_number(prediction: str, gold: str, same: bool) -> None:
    assert same_number(prediction, gold) is same


@pytest.mark.parametrize(
    ("answer", "letters"),
    [
        ("B", "B"),
        ("(b)", "B"),
        ("ACD", "ACD"),
        ("A, C and D", "ACD"),
        ("(A), (C)", "AC"),
        ("[B]; [D]", "BD"),
        ("Option B", "B"),
        ("The answer is (C).", "C"),
        ("The answer is ACD", "ACD"),
        ("None of these", ""),
        ("", ""),
    ],
)
def test_option_letters(answer: str, letters: str) -> None:
    assert option_letters(answer) == frozenset(letters)
