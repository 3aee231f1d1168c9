"""Reading a final answer out of a reply, the same way for both arms and every task.

Both arms are told to end with `FINAL ANSWER: ...` (`final_answer_instruction`), and one
extractor reads every reply, so neither arm is scored more leniently than the other.
"""

from __future__ import annotations

import re
from fractions import Fraction

_FINAL_MARK = re.compile(r"final\s+answer\s*[:\uff1a]", re.IGNORECASE)  # or a full-width colon
_LATEX_WRAPPERS = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf)\s*\{")
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?[\d.]+)\s*\}\s*\{\s*(-?[\d.]+)\s*\}")
_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\}|\\,)(?=\d{3}(?!\d))")
# A number not glued to a word or another number: 18, -3, 2.5, 3/4 (a minus after a digit is
# subtraction, so "5-3" reads as 5 and 3).
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?")
_LETTER_TOKEN = re.compile(r"[A-D]{1,4}|[a-d]")
_LETTER_SEPARATORS = re.compile(r"[\s,;/&+()\[\].:]+|\band\b", re.IGNORECASE)


def final_answer_instruction(what: str) -> str:
    """The closing instruction both arms get, naming what belongs on the final line."""
    return (
        "You may reason step by step first. End your reply with one last line of the form\n"
        f"FINAL ANSWER: <answer>\nwhere <answer> is {what}."
    )


def extract_final_answer(text: str) -> str:
    """The answer a reply gives, cleaned of markdown, `$`, `\\boxed{}` and a final period.

    The text after the last `FINAL ANSWER:` (or on the next line, when that one is empty);
    without one, the last `\\boxed{...}`; without either, the whole reply, from which the
    scorers take the last number (GSM8K, SVAMP, JEEBench numbers) or the option letters.
    """
    marks = list(_FINAL_MARK.finditer(text))
    if marks:
        rest = text[marks[-1].end() :]
        lines = [line for line in (clean(line) for line in rest.splitlines()) if line]
        return lines[0] if lines else ""
    boxed = _boxed_contents(text)
    return clean(boxed[-1] if boxed else text)


def clean(answer: str) -> str:
    """Drop markdown emphasis, code ticks, `$`, LaTeX wrappers and a trailing period."""
    answer = _unwrap_latex(answer)
    answer = re.sub(r"[*_`$]", "", answer).strip()
    return answer.rstrip(".").strip()


def last_number(text: str) -> Fraction | None:
    """The last number in `text`, exactly (commas, `\\frac` and trailing `.0` understood)."""
    text = _FRAC.sub(r"\1/\2", text.replace("\u2212", "-"))
    numbers = _NUMBER.findall(_THOUSANDS.sub("", text))
    for number in reversed(numbers):
        try:
            return Fraction(number)
        except ZeroDivisionError:
            continue
    return None


def same_number(prediction: str, gold: str) -> bool:
    """Whether the prediction's last number equals the gold's, exactly (18.00 == 18)."""
    answer = last_number(prediction)
    return answer is not None and answer == last_number(gold)


def option_letters(answer: str) -> frozenset[str]:
    """The options an answer chooses: `B`, `(A) and (C)`, `A, C, D`, `ACD` or `b`.

    An answer made only of letters and separators gives all its letters; anything else gives
    the letters of its standalone capitals A-D (`The answer is (B)` gives B, `is ACD` A, C, D).
    """
    tokens = [t for t in _LETTER_SEPARATORS.split(answer) if t]
    if not (tokens and all(_LETTER_TOKEN.fullmatch(t) for t in tokens)):
        tokens = re.findall(r"\b[A-D]{1,4}\b", answer)
    return frozenset("".join(tokens).upper())


def _unwrap_latex(text: str) -> str:
    """`\\boxed{x}`, `\\text{x}` and similar become `x` (nested braces respected)."""
    while match := _LATEX_WRAPPERS.search(text):
        end = _closing_brace(text, match.end())
        text = text[: match.start()] + text[match.end() : end] + text[end + 1 :]
    return text


def _boxed_contents(text: str) -> list[str]:
    found = []
    for match in re.finditer(r"\\boxed\s*\{", text):
        found.append(text[match.end() : _closing_brace(text, match.end())])
    return found


def _closing_brace(text: str, start: int) -> int:
    """The index of the brace closing the one just before `start` (or the end of `text`)."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return len(text)
