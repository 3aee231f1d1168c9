"""Long runs against the fake servers: each request fits the window by the server's own count,
carries Ollama's num_ctx, starts with the system prompt, and never orphans a tool result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hashiru.agents.context import TokenCounter
from hashiru.messages import Message, Usage
from hashiru.runtime import Hashiru, ceo_system_prompt
from hashiru.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeServer, FakeTurn, tokens

TEXT = " ".join(
    f"Line {n}: the quarterly report lists revenue of {n * 37} thousand, costs of {n * 11}."
    for n in range(120)
)  # about 2,000 tokens by the fakes' count: half a 4,096-token window per read


def reader(steps: int) -> Callable[[int], FakeTurn]:
    """A CEO that reads report.txt at every step, then answers."""

    def respond(n: int) -> FakeTurn:
        if n + 1 >= steps:
            return FakeTurn(text="The report was read at every step.")
        return FakeTurn(tool_calls=[("read_file", {"path": "report.txt"})])

    return respond


def writer(n: int) -> FakeTurn:
    return FakeTurn(text=f"Summary {n}: report.txt was read; revenue grows 37 thousand a line.")


async def long_run(
    fake: FakeServer, tmp_path: Path, ceo: str, steps: int, window: int = 4096, **settings
) -> None:
    (tmp_path / "report.txt").write_text(TEXT)
    config = Settings.load(
        ceo_model=ceo,
        max_steps=steps,
        enable_memory=False,
        retries=0,
        workspace=tmp_path,
        **settings,
    )
    hashiru = Hashiru.from_settings(config)
    try:
        result = await hashiru.run("Read report.txt at every step.")
    finally:
        await hashiru.aclose()
    assert result.answer == "The report was read at every step."
    assert result.steps == steps
    assert 0 < result.context_peak_tokens["ceo"] <= window


WINDOW = 6144
"""A small model's window. The CEO's fixed part (its prompt and sixteen tools' schemas) is about
2,750 of the fake's tokens: in 4,096 less 1,024 for the reply, a summary would fit only one read."""


async def test_a_200_step_ollama_run_fits_num_ctx_every_time(tmp_path: Path) -> None:
    with FakeOllama() as fake:
        fake.context_length = WINDOW
        fake.count_prompt = True
        fake.plan_forever("qwen3:0.6b", reader(200))
        fake.plan_forever("llama3.2", writer)
        await long_run(
            fake,
            tmp_path,
            "ollama:qwen3:0.6b",
            200,
            window=WINDOW,
            ollama_host=fake.url,
            compaction_model="ollama:llama3.2",
        )
    ceo = [p for p in fake.prompts if p.model == "qwen3:0.6b"]
    assert len(ceo) == 200
    assert {p.limit for p in ceo} == {WINDOW}  # an explicit, stable num_ctx
    assert not fake.overflows  # nothing cut from the front
    assert max(p.tokens for p in ceo) <= WINDOW - 1024  # and room left for the reply
    assert all(p.system == ceo_system_prompt() for p in ceo)
    summaries = [p for p in fake.prompts if p.model == "llama3.2"]
    assert 0 < len(summaries) <= 100 and all(p.fits for p in summaries)  # not every step


@pytest.mark.parametrize("backend", ["anthropic", "gemini"])
async def test_a_long_cloud_run_fits_a_shrunk_window(tmp_path: Path, backend: str) -> None:
    if backend == "anthropic":
        fake: FakeServer = FakeAnthropic(
            models={"claude-haiku-4-5": 200_000, "claude-sonnet-4-6": 200_000}
        )
        ceo, summarizer = "claude-haiku-4-5", "claude-sonnet-4-6"
    else:
        fake = FakeGemini(models=("gemini-2.5-flash", "gemini-2.5-pro"))
        ceo, summarizer = "gemini-2.5-flash", "gemini-2.5-pro"
    with fake:
        fake.window = 4096  # the server refuses what does not fit, as the real API does
        fake.count_prompt = True
        fake.plan_forever(ceo, reader(60))
        fake.plan_forever(summarizer, writer)
        await long_run(
            fake,
            tmp_path,
            f"{backend}:{ceo}",
            60,
            models={f"{backend}:{ceo}": {"context_tokens": 4096}},
            compaction_model=f"{backend}:{summarizer}",
            **{f"{backend}_api_key": "k", f"{backend}_base_url": fake.url},
        )
    asked = [p for p in fake.prompts if p.model == ceo]
    assert len(asked) == 60 and all(p.fits and not p.error for p in asked)
    assert any(p.model == summarizer for p in fake.prompts)  # it did compact


def test_the_estimate_is_never_short_of_the_servers_count_once_calibrated() -> None:
    """After one reported call, the estimate of other requests is at least the real count
    (here, the fake servers' tokenizer) less a few percent, and not wildly above it."""
    counter = TokenCounter()
    texts = [TEXT[: 200 * n] for n in range(1, 30)]
    first = [Message.system("s"), Message.user(texts[0])]
    counter.observe(counter.raw(first), Usage(input_tokens=sum(tokens(m.text) + 4 for m in first)))
    for text in texts[1:]:
        request = [Message.system("s"), Message.user(text)]
        real = sum(tokens(m.text) + 4 for m in request)
        assert real * 0.97 <= counter.count(request) <= real * 1.5
