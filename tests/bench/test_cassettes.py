"""`bench run --record DIR` then `--replay DIR`: the run re-scored with not one model call.

A run is recorded against the fake Gemini of test_costs (priced, so it costs dollars), the
server is stopped and the key removed, and the replay, given no providers at all, scores every
item as the recording did for $0. A resumed recording adds to its cassette, and an item that
failed and was retried replays its last attempt.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from hashiru import ProviderError, Script, ScriptedProvider
from hashiru.messages import Message, ToolSpec
from tests.bench.conftest import Bench
from tests.bench.priced_gemini import MODEL, QuizGemini
from tests.bench.quiz import ITEMS, USAGE, call, hashiru_correct, number_of, reply

SCORED = ("id", "prompt", "response", "prediction", "gold", "score", "employees", "tool_calls")


def scored(records: list[dict]) -> dict[str, dict]:
    """What a replay must reproduce of each record: everything but time and money."""
    return {r["id"]: {key: r[key] for key in SCORED} | {"answers": answers(r)} for r in records}


def answers(record: dict) -> list[dict]:
    return [{k: a[k] for k in ("agent", "model", "response", "score")} for a in record["answers"]]


@pytest.mark.parametrize("system", ["baseline", "hashiru"])
def test_a_replay_scores_every_item_as_recorded_with_no_request_and_no_dollars(
    system: str,
    bench: Bench,
    gemini: QuizGemini,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tapes = tmp_path / "cassettes"
    assert bench.run("gsm8k", system, MODEL, "--concurrency", "4", "--record", str(tapes)) == 0
    recorded = bench.records("gsm8k", system, MODEL)
    assert sum(Decimal(r["expense_usd"]) for r in recorded) > 0, "the recording paid"
    sent = len(gemini.requests)
    gemini.__exit__()  # the provider is gone, and so is its key
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL")

    again = Bench(bench.data_dir, tmp_path / "replayed")
    assert again.run("gsm8k", system, MODEL, "--concurrency", "4", "--replay", str(tapes)) == 0
    replayed = again.records("gsm8k", system, MODEL)
    assert len(gemini.requests) == sent, "not one request"
    assert len(replayed) == ITEMS and all(r["error"] is None for r in replayed)
    assert scored(replayed) == scored(recorded)
    assert {Decimal(r["expense_usd"]) for r in replayed} == {0}
    assert [(r["input_tokens"], r["output_tokens"]) for r in replayed] == [
        (r["input_tokens"], r["output_tokens"]) for r in recorded
    ]
    assert again.report() == 0 and bench.report() == 0
    [run], [original] = again.summary()["runs"], bench.summary()["runs"]
    assert run["accuracy"] == original["accuracy"] == (0.6 if system == "hashiru" else 0.5)
    assert Decimal(run["total_cost_usd"]) == 0
    meta = json.loads(next(again.out.glob("*.meta.json")).read_text())
    assert meta["invocations"][-1]["replay"] == str(tapes)


FLAKY = 9  # the second item of the seeded order


class FlakyCeo:
    """A CEO whose first try at item FLAKY checks the budget and then fails; retried, it lists
    the team instead (a model need not answer twice alike). Every other item: list, answer."""

    def __init__(self) -> None:
        self.tries: Counter[int] = Counter()

    def turn(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        k = number_of(next(m.text for m in messages if m.role == "user"))
        results = [r for m in messages if m.role == "tool" for r in m.tool_results]
        if not results:
            self.tries[k] += 1
            first_try = k == FLAKY and self.tries[k] == 1
            return {"tool_calls": [call("get_budget" if first_try else "list_agents")]}
        if results[-1].name == "get_budget":
            raise ProviderError("scripted", "bad_request", "a planned failure")
        return {"text": reply("gsm8k", k, hashiru_correct(k)), "usage": USAGE}

    def provider(self) -> ScriptedProvider:
        return ScriptedProvider({"ceo": Script([self.turn], repeat=True)})


def test_a_resumed_recording_keeps_its_calls_and_a_retried_item_replays_its_last_try(
    bench: Bench, tmp_path: Path
) -> None:
    ceo = FlakyCeo()
    tapes, providers = tmp_path / "cassettes", [ceo.provider()]

    def record(limit: int) -> int:
        options = ["--record", str(tapes), "--concurrency", "2", "--limit", str(limit)]
        return bench.run("gsm8k", "hashiru", "scripted:ceo", *options, providers=providers)

    assert record(3) == 0
    failed = [r["id"] for r in bench.records("gsm8k", "hashiru", "scripted:ceo") if r["error"]]
    assert failed == [f"test-{FLAKY}"]
    assert record(5) == 0  # resumed: the failed item retried, two more added
    assert ceo.tries[FLAKY] == 2
    latest = {r["id"]: r for r in bench.records("gsm8k", "hashiru", "scripted:ceo")}
    assert len(latest) == 5 and all(r["error"] is None for r in latest.values())

    again = Bench(bench.data_dir, tmp_path / "replayed")
    replay = ["--replay", str(tapes), "--limit", "5", "--concurrency", "2"]
    assert again.run("gsm8k", "hashiru", "scripted:ceo", *replay) == 0  # no providers at all
    replayed = again.records("gsm8k", "hashiru", "scripted:ceo")
    assert scored(replayed) == scored(list(latest.values()))
    assert sum(ceo.tries.values()) == 6, "the CEO was not asked again"


def test_a_replay_without_a_recording_or_with_learn_is_refused(
    bench: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tapes = str(tmp_path / "cassettes")
    assert bench.run("gsm8k", "baseline", "scripted:solo", "--replay", tapes) == 2
    assert (
        "holds no recorded calls of this run: record them with --record" in capsys.readouterr().err
    )
    assert bench.run("gsm8k", "baseline", "scripted:solo", "--replay", tapes, "--learn") == 2
    assert "--learn rates a replay's asks, which cost $0" in capsys.readouterr().err
    assert not (bench.out / "gsm8k-baseline-scripted_solo.jsonl").exists()
