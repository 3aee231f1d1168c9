"""A fake Gemini for the bench, priced by hand: every call 1,000 input and 100 output tokens at
$1 and $10 per million (a price override in the workspace), so a call costs $0.002."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bench.quiz import baseline_correct, hashiru_correct, number_of, reply
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import FakeTurn, Recorded, Reply

NAME = "gemini-2.5-flash"
MODEL = f"gemini:{NAME}"
TOKENS = {"input_tokens": 1000, "output_tokens": 100}


class QuizGemini(FakeGemini):
    """Answers from the request itself, so concurrent items each get their own turns."""

    def __init__(self) -> None:
        super().__init__(api_key="k", models=[NAME])
        self._request = threading.local()  # the server answers each request on its own thread

    def handle(self, request: Recorded) -> Reply:
        self._request.body = request.body
        return super().handle(request)

    def next_turn(self, model: str) -> FakeTurn:
        body = self._request.body
        k = number_of(str(body["contents"][0]))
        if "tools" not in body:  # the baseline's call, or the employee's
            return FakeTurn(text=reply("gsm8k", k, baseline_correct(k)), **TOKENS)
        parts = [part for content in body["contents"] for part in content["parts"]]
        step = sum("functionResponse" in part for part in parts)
        if step == 0:
            hire = {"name": f"g{k}", "model": MODEL, "system_prompt": "s", "description": "d"}
            return FakeTurn(tool_calls=[("hire_agent", hire)], **TOKENS)
        if step == 1:
            ask = {"name": f"g{k}", "prompt": f"Question number {k}"}
            return FakeTurn(tool_calls=[("ask_agent", ask)], **TOKENS)
        return FakeTurn(text=reply("gsm8k", k, hashiru_correct(k)), **TOKENS)


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[QuizGemini]:
    """The fake, with the workspace's price override and the SDK pointed at it."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "hashiru.toml").write_text(
        f'[prices."{MODEL}"]\ninput_per_mtok = 1\noutput_per_mtok = 10\n'
    )
    with QuizGemini() as fake:
        monkeypatch.setenv("GEMINI_API_KEY", "k")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        yield fake
