"""Hand-made quiz data in the three tasks' real file formats, and scripted models whose
accuracy on it is known exactly.

Item k's question says "Question number k". The baseline answers item k correctly when k is
even, HASHIRU when k is not a multiple of 3; on JEEBench the baseline also earns partial
credit. The replies are deliberately messy (markdown, `$`, `\\boxed{}`, units, commas).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from hashiru.errors import ProviderError
from hashiru.messages import Message, ToolSpec
from hashiru.providers.scripted import Script, ScriptedProvider

ITEMS = 10
USAGE = {"input_tokens": 100, "output_tokens": 10}
JEE_ITEMS = [  # (type, gold, the baseline's answer, its score)
    ("MCQ", "B", "B", 1.0),
    ("MCQ", "B", "(C)", 0.0),
    ("MCQ(multiple)", "ACD", "A, C and D", 1.0),
    ("MCQ(multiple)", "ACD", "**AC**", 0.5),
    ("MCQ(multiple)", "ACD", "D", 0.25),
    ("MCQ(multiple)", "ACD", "AB", 0.0),
    ("Integer", "7", "\\boxed{7}", 1.0),
    ("Integer", "7", "8", 0.0),
    ("Numeric", "2.35", "2.36", 1.0),
    ("Numeric", "2.35", "2.37", 0.0),
]
JEE_WRONG = {"MCQ": "A", "MCQ(multiple)": "B", "Integer": "9", "Numeric": "2.5"}
NUMBER_FORMATS = [
    "FINAL ANSWER: {}",
    "Let me add it up.\n**FINAL ANSWER:** ${}$.",
    "So that is it.\nFinal answer: \\boxed{{{}}}",
    "FINAL ANSWER: {} apples",
]


def gold_number(k: int) -> int:
    return 1000 * k + 7  # from k = 1 on, written with a thousands comma in GSM8K


def baseline_correct(k: int) -> bool:
    return k % 2 == 0


def hashiru_correct(k: int) -> bool:
    return k % 3 != 0


def write_data(root: Path) -> Path:
    """The three tasks' data files, ITEMS items each, under `root` as a data directory."""
    (root / "gsm8k").mkdir(parents=True)
    (root / "svamp").mkdir()
    (root / "jeebench").mkdir()
    gsm8k = [
        {"question": f"Question number {k}: how many?", "answer": f"work\n#### {gold_number(k):,}"}
        for k in range(ITEMS)
    ]
    (root / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gsm8k))
    svamp = [
        {
            "ID": f"chal-{k}",
            "Body": f"Question number {k}: there are apples.",
            "Question": "How many?",
            "Answer": float(gold_number(k)),
        }
        for k in range(ITEMS)
    ]
    (root / "svamp" / "SVAMP.json").write_text(json.dumps(svamp))
    jee = [
        {
            "description": "JEE Adv 2016 Paper 1",
            "index": k + 1,
            "subject": "phy",
            "type": kind,
            "question": f"Question number {k}: which?\n\n(A) a\n(B) b\n(C) c\n(D) d",
            "gold": gold,
        }
        for k, (kind, gold, _, _) in enumerate(JEE_ITEMS)
    ]
    (root / "jeebench" / "dataset.json").write_text(json.dumps(jee))
    return root


def number_of(text: str) -> int:
    return int(re.search(r"Question number (\d+)", text).group(1))


def reply(task: str, k: int, correct: bool, baseline: bool = False) -> str:
    """An answer to item k of `task`: right or wrong, in one of several messy formats."""
    if task == "jeebench":
        kind, gold, baseline_answer, _ = JEE_ITEMS[k]
        answer = baseline_answer if baseline else gold if correct else JEE_WRONG[kind]
        return f"Reasoning.\nFINAL ANSWER: {answer}"
    number = gold_number(k) + (0 if correct else 1)
    shown = f"{number:,}" if k % 2 else str(number)
    return NUMBER_FORMATS[k % len(NUMBER_FORMATS)].format(shown)


class Quizzer:
    """Scripted turns for both arms on one task, counting the calls each model gets."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.calls: Counter[str] = Counter()
        self.fail_once: set[int] = set()  # items whose first baseline call fails

    def solo(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        """The baseline: the model alone."""
        self.calls["solo"] += 1
        k = number_of(messages[-1].text)
        if k in self.fail_once:
            self.fail_once.discard(k)
            raise ProviderError("scripted", "bad_request", "a planned failure")
        return {"text": reply(self.task, k, baseline_correct(k), baseline=True), "usage": USAGE}

    def ceo(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        """HASHIRU's CEO: hires solver<k>, asks it the question, then relays its answer."""
        self.calls["ceo"] += 1
        question = next(m.text for m in messages if m.role == "user")
        name = f"solver{number_of(question)}"
        results = [r for m in messages if m.role == "tool" for r in m.tool_results]
        if not results:
            hire = {"name": name, "model": "scripted:solver", "system_prompt": "s"}
            return {"tool_calls": [call("hire_agent", **hire, description="d")], "usage": USAGE}
        if len(results) == 1:
            return {"tool_calls": [call("ask_agent", name=name, prompt=question)], "usage": USAGE}
        return {"text": json.loads(results[-1].content)["answer"], "usage": USAGE}

    def solver(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        """HASHIRU's employee."""
        self.calls["solver"] += 1
        k = number_of(messages[-1].text)
        return {"text": reply(self.task, k, hashiru_correct(k)), "usage": USAGE}

    def provider(self) -> ScriptedProvider:
        """`scripted:solo`, `scripted:ceo` and `scripted:solver`, each playing forever."""
        turns: dict[str, Callable] = {"solo": self.solo, "ceo": self.ceo, "solver": self.solver}
        scripts = {name: Script([turn], repeat=True) for name, turn in turns.items()}
        return ScriptedProvider(scripts)


def call(tool: str, /, **arguments: object) -> dict:
    return {"name": tool, "arguments": arguments}
