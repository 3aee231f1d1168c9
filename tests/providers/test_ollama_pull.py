"""Pulling a model onto an Ollama host, and a host that dies, against a fake Ollama on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import ollama
import pytest

from hashiru.errors import ProviderError
from hashiru.messages import Message
from hashiru.providers.base import ProviderConfig
from hashiru.providers.ollama import OllamaProvider, PullProgress
from tests.fakes.ollama import NO_SUCH_MODEL, PULL_STEPS, FakeOllama
from tests.fakes.server import FakeTurn

LAYERS = [1_930_000_000, 12_000, 6_000, 485]  # weights, template, license, params: llama-like


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as running:
        running.registry = {"phi4-mini": LAYERS}
        yield running


@pytest.fixture
def provider(fake: FakeOllama) -> OllamaProvider:
    return OllamaProvider(ProviderConfig(base_url=fake.url, retries=0))


async def pull_all(provider: OllamaProvider, model: str) -> list[PullProgress]:
    return [step async for step in provider.pull(model)]


def layer_steps(steps: list[PullProgress]) -> list[int]:
    """The bytes done on each step shown while layers download."""
    return [s.completed for s in steps if s.total and s.status.startswith("pulling ")]


async def test_pull_reports_summed_progress_then_lists_the_model(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    steps = await pull_all(provider, "phi4-mini")

    assert steps[0].status == "pulling manifest"
    assert [s.status for s in steps[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    assert [s.done for s in steps] == [False] * (len(steps) - 1) + [True]
    completed = [s.completed for s in steps]
    assert completed == sorted(completed)  # never goes back, across layers too
    # No layer line shows its layer whole; once Ollama verifies, every layer is.
    assert max(layer_steps(steps)) < sum(LAYERS)
    assert steps[-1].completed == steps[-1].total == sum(LAYERS)
    assert {s.model for s in steps} == {"phi4-mini"}
    assert {s.host for s in steps} == {fake.url}
    # Each layer shows up under Ollama's "pulling <12 hex digits>" status.
    layer_statuses = {s.status for s in steps if s.status.startswith("pulling ") and s.total}
    assert len(layer_statuses) == len(LAYERS)
    assert all(len(status.removeprefix("pulling ")) == 12 for status in layer_statuses)
    [request] = fake.calls("/api/pull")
    assert request.body["model"] == "phi4-mini" and request.body["stream"] is True

    listed = {info.ref: info for info in await provider.list_models()}
    # The fake's models say no KV shape, so the weights are all the memory it takes.
    assert listed["ollama:phi4-mini:latest"].memory_bytes == sum(LAYERS)


async def test_lines_that_move_no_percent_are_dropped(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    """Ollama repeats a layer's line every 60 ms whether or not bytes came: a bar needs one
    per percent. The fake sends each layer's bytes in quarters."""
    fake.registry = {"tiny": [2], "small": [400]}

    tiny = layer_steps(await pull_all(provider, "tiny"))
    small = layer_steps(await pull_all(provider, "small"))

    assert tiny == [0, 1]  # sent 0, 0, 1, 1
    assert small == [0, 100, 200, 300]  # every quarter moves the percent


async def test_unknown_model_says_the_registry_has_none(provider: OllamaProvider) -> None:
    with pytest.raises(ProviderError, match="registry has no model 'no-such-model'") as caught:
        await pull_all(provider, "no-such-model")

    assert caught.value.kind == "not_found"
    assert "ollama.com/library" in str(caught.value)


async def test_fake_speaks_stream_false_like_ollama(fake: FakeOllama) -> None:
    """The SDK's one-reply form: the last line, or the error with HTTP 500 (waitForStream)."""
    client = ollama.AsyncClient(host=fake.url)

    reply = await client.pull("phi4-mini", stream=False)
    with pytest.raises(ollama.ResponseError) as caught:
        await client.pull("nope", stream=False)

    assert reply.status == "success"
    assert "phi4-mini:latest" in fake.models
    assert (caught.value.status_code, caught.value.error) == (500, NO_SUCH_MODEL)


async def test_closing_the_iterator_cancels_the_download(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    fake.pull_delay = 0.04  # a line every 40 ms: the whole pull would take 0.64 s
    steps = provider.pull("phi4-mini")
    async for step in steps:
        if step.completed:
            break

    await steps.aclose()
    # The stream is closed when aclose returns, not later by the garbage collector: with the
    # event loop held still, the fake sees the hang-up on its next lines and stops sending.
    time.sleep(0.25)
    assert fake.in_flight == 0
    time.sleep(fake.pull_delay * PULL_STEPS * len(LAYERS))
    assert "phi4-mini:latest" not in fake.models  # it never got to the end


async def test_a_host_that_is_down_is_a_connection_error() -> None:
    with socket.socket() as spare:  # a port nothing listens on once it is closed
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    provider = OllamaProvider(ProviderConfig(base_url=f"http://127.0.0.1:{port}", retries=0))

    with pytest.raises(ProviderError, match="ollama serve") as caught:
        await pull_all(provider, "phi4-mini")

    assert caught.value.kind == "connection"
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_a_host_that_dies_mid_ask_is_a_connection_error(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    fake.plan("llama3.2", FakeTurn(text="never sent"))
    fake.drop_chats = True
    question = [Message.user("Still there?")]

    with pytest.raises(ProviderError) as complete:
        await provider.complete("llama3.2", question, [], max_tokens=16)
    with pytest.raises(ProviderError) as stream:
        async for _ in provider.stream("llama3.2", question, [], max_tokens=16):
            pass

    for caught in (complete, stream):
        assert caught.value.kind == "connection"
        assert f"lost the connection to Ollama at {fake.url}" in str(caught.value)
    assert len(fake.calls("/api/chat")) == 2  # both reached the host, neither was answered
