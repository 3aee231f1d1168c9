"""Employees of known accuracy, scored against the gold, and `--learn` filing their verdicts.

A scripted CEO hires alice and bob on every item, asks both the question in one step and relays
alice's answer. alice is right on items 0-7 of 10, bob on items 2 and 5 only, and bob answers
nothing on item 9 (an ask the run files as failed). Both are local models that hold memory
(1 and 0.5 GiB), so the plot has something to show on its memory panel.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from bench.hashirubench.plot import MEMORY, plotted
from bench.hashirubench.summary import RunStats
from hashiru import Hashiru, Message, ModelInfo, Script, ScriptedProvider, Settings, ToolSpec
from tests.bench.conftest import Bench
from tests.bench.quiz import ITEMS, USAGE, Quizzer, call, number_of, reply

MEMORY_BYTES = {"alice": 2**30, "bob": 2**29}
EMPTY = {("bob", 9)}  # (employee, item) answered with nothing


def right(employee: str, k: int) -> bool:
    return k < 8 if employee == "alice" else k in (2, 5)


def expected_score(employee: str, k: int) -> float:
    return float(right(employee, k) and (employee, k) not in EMPTY)


class Team:
    """The CEO and its two employees, each answering from the item's question number."""

    def __init__(self, task: str, answers: dict[int, str] | None = None) -> None:
        self.task = task
        self.answers = answers  # alice's replies by item, when not the quiz's right/wrong

    def ceo(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        """Hires alice<k> and bob<k> (concurrent items each have their own), asks both, and
        relays alice's answer."""
        question = next(m.text for m in messages if m.role == "user")
        names = {f"{model}{number_of(question)}": model for model in MEMORY_BYTES}
        results = [
            json.loads(r.content) for m in messages if m.role == "tool" for r in m.tool_results
        ]
        if not results:
            hires = [
                call("hire_agent", name=name, model=f"scripted:{model}", system_prompt="s",
                     description="d")
                for name, model in names.items()
            ]  # fmt: skip
            return {"tool_calls": hires, "usage": USAGE}
        if len(results) == 2:
            asks = [call("ask_agent", name=name, prompt=question, kind="math") for name in names]
            return {"tool_calls": asks, "usage": USAGE}
        [alice] = [r for r in results if r.get("agent", "").startswith("alice")]
        return {"text": alice["answer"], "usage": USAGE}

    def employee(self, name: str) -> Callable[[Sequence[Message], Sequence[ToolSpec]], dict]:
        def answer(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
            k = number_of(messages[-1].text)
            if (name, k) in EMPTY:
                return {"text": "", "usage": USAGE}
            if self.answers is not None and name == "alice":
                return {"text": f"FINAL ANSWER: {self.answers[k]}", "usage": USAGE}
            return {"text": reply(self.task, k, right(name, k)), "usage": USAGE}

        return answer

    def provider(self) -> ScriptedProvider:
        turns = {"ceo": self.ceo, "solo": Quizzer(self.task).solo}
        turns |= {name: self.employee(name) for name in MEMORY_BYTES}
        return HeavyScripted({name: Script([turn], repeat=True) for name, turn in turns.items()})


class HeavyScripted(ScriptedProvider):
    """Scripted models, the employees holding memory as a local model does."""

    async def describe(self, model: str) -> ModelInfo:
        info = await super().describe(model)
        return info.model_copy(update={"memory_bytes": MEMORY_BYTES.get(model, 0)})


def scorecard() -> dict[str, tuple[int, int, int, int]]:
    """Each employee model's (asks, good, bad, failed) on math, from the workspace's scorecard."""
    lines = Hashiru.from_settings(Settings.load()).scorecard("math")
    return {line.model: (line.asks, line.good, line.bad, line.failed) for line in lines}


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed, its lines joined again where rich wrapped them."""
    return " ".join(capsys.readouterr().out.split())


def run(bench: Bench, team: Team, *args: str, task: str = "gsm8k") -> int:
    return bench.run(task, "hashiru", "scripted:ceo", *args, providers=[team.provider()])


def test_each_answer_is_scored_against_its_items_gold(bench: Bench) -> None:
    assert run(bench, Team("gsm8k"), "--concurrency", "3") == 0

    records = bench.records("gsm8k", "hashiru", "scripted:ceo")
    assert len(records) == ITEMS
    for record in records:
        k = number_of(record["prompt"])
        got = [(a["agent"], a["model"], a["kind"], a["score"]) for a in record["answers"]]
        assert sorted(got) == [
            (f"{name}{k}", f"scripted:{name}", "math", expected_score(name, k))
            for name in MEMORY_BYTES
        ], record["id"]
        assert record["score"] == expected_score("alice", k)  # the CEO relays alice
        assert Decimal(record["resource_gib_used"]) == Decimal("1.5")
    ask_ids = [a["ask_id"] for record in records for a in record["answers"]]
    assert len(set(ask_ids)) == 2 * ITEMS and all(isinstance(i, int) for i in ask_ids)
    # without --learn the scorecard has the asks the run filed, and no verdict on them
    assert scorecard() == {"scripted:alice": (10, 0, 0, 0), "scripted:bob": (10, 0, 0, 1)}


def test_learn_files_the_verdicts_once_and_resuming_rates_nothing_again(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    team = Team("gsm8k")
    assert run(bench, team, "--limit", "4") == 0  # four items without --learn
    assert all(line[1:3] == (0, 0) for line in scorecard().values())

    assert run(bench, team, "--learn") == 0  # the four recorded before, then six new ones
    assert "learned 19 answers (failed asks: 1)" in printed(capsys)
    assert scorecard() == {"scripted:alice": (10, 8, 2, 0), "scripted:bob": (10, 2, 7, 1)}
    asks = Hashiru.from_settings(Settings.load()).outcomes.asks()
    rated = [ask for ask in asks if not ask.failed]
    assert {ask.verdict_source for ask in rated} == {"bench"}

    assert run(bench, team, "--learn") == 0  # nothing new: nothing rated twice
    assert "learned 0 answers (already rated: 19; failed asks: 1)" in printed(capsys)
    assert scorecard() == {"scripted:alice": (10, 8, 2, 0), "scripted:bob": (10, 2, 7, 1)}


def test_learn_leaves_answers_filed_in_another_workspace_alone(
    bench: Bench, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = Team("gsm8k")
    assert run(bench, team) == 0  # this workspace's asks: ids 1-20
    elsewhere = Bench(data_dir, tmp_path / "elsewhere")
    assert run(elsewhere, team, "--home", str(tmp_path / "other-home")) == 0  # ids 1-20 there
    capsys.readouterr()

    assert run(elsewhere, team, "--learn") == 0  # in this workspace: the same ids, other asks
    assert "learned 0 answers (not in this workspace's scorecard: 20)" in printed(capsys)
    assert scorecard() == {"scripted:alice": (10, 0, 0, 0), "scripted:bob": (10, 0, 0, 1)}


def test_the_report_shows_each_employee_models_accuracy(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    team = Team("gsm8k")
    assert run(bench, team) == 0
    assert bench.run("gsm8k", "baseline", "scripted:solo", providers=[team.provider()]) == 0
    capsys.readouterr()
    assert bench.report() == 0

    summary = bench.summary()
    employees = {e["model"]: e for e in summary["employees"]}
    assert [(e["answers"], e["right"], e["accuracy"]) for e in employees.values()] == [
        (10, 8, 0.8),
        (10, 2, 0.2),
    ]
    assert (
        employees["scripted:bob"]["ci_low"] > 0.05 and employees["scripted:bob"]["task"] == "gsm8k"
    )
    runs = {run["system"]: run for run in summary["runs"]}
    assert (
        runs["hashiru"]["mean_resource_gib_used"],
        runs["baseline"]["mean_resource_gib_used"],
    ) == (
        1.5,
        0,
    )
    markdown = (bench.out / "summary.md").read_text()
    assert "| gsm8k | scripted:alice | 10 | 8 | 80.0% |" in markdown
    assert "| gsm8k | scripted:bob | 10 | 2 | 20.0% |" in markdown
    terminal = capsys.readouterr().out
    assert "gsm8k · scripted:alice" in terminal and "80.0% (49%-94%)" in terminal
    assert max(len(line) for line in terminal.splitlines()) <= 80

    figure = plotted([RunStats(**run) for run in summary["runs"]])
    _, memory = figure.axes
    assert memory.get_xlabel() == MEMORY.label
    held = sorted(float(bar.lines[0].get_xdata()[0]) for bar in memory.containers)
    assert held == [0.0, 1.5]  # the baseline held nothing, HASHIRU its two employees
    assert memory.get_xlim()[1] >= 1.5
    assert (bench.out / "cost_vs_accuracy.png").read_bytes().startswith(b"\x89PNG")


JEE = [  # MCQ(multiple), gold ABCD: alice's answer and its score
    ("ABCD", 1.0),
    ("ABC", 0.75),
    ("AB", 0.5),
    ("A", 0.25),
]


def test_partial_credit_is_scored_but_learned_as_bad(bench: Bench, data_dir: Path) -> None:
    jee = [
        {
            "description": "JEE Adv 2016 Paper 1",
            "index": k + 1,
            "subject": "phy",
            "type": "MCQ(multiple)",
            "question": f"Question number {k}: which?\n\n(A) a\n(B) b\n(C) c\n(D) d",
            "gold": "ABCD",
        }
        for k in range(len(JEE))
    ]
    (data_dir / "jeebench" / "dataset.json").write_text(json.dumps(jee))
    team = Team("jeebench", answers={k: answer for k, (answer, _) in enumerate(JEE)})

    assert run(bench, team, "--learn", task="jeebench") == 0

    for record in bench.records("jeebench", "hashiru", "scripted:ceo"):
        [alice] = [a for a in record["answers"] if a["model"] == "scripted:alice"]
        assert alice["score"] == JEE[number_of(record["prompt"])][1]
    assert scorecard()["scripted:alice"] == (4, 1, 3, 0)  # only the whole set is good
