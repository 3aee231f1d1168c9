"""What every server-backed provider promises, checked against each one's fake through its SDK.

The same tests run for Ollama, Gemini, Anthropic and OpenAI; a `Backend` says how each is built
and where its wire format differs (paths, how usage is counted, how its fake splits a streamed
text).
Provider-specific translation and error quirks stay in each provider's own test module.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

import pytest

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta
from hashiru.providers import Providers
from hashiru.providers.base import ChatModel, Provider, StreamItem
from hashiru.settings import Settings
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import gemini as fake_gemini
from tests.fakes import openai as fake_openai
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeServer, FakeTurn, Recorded

HI = [Message.user("hi")]
CACHE_WRITE = 3  # what the Anthropic fake reports as written to the cache on every reply


@dataclass(frozen=True)
class Backend:
    """One provider under the contract, and what its fake looks like on the wire."""

    name: str
    fake_factory: Callable[[], FakeServer]
    make_provider: Callable[..., Provider]  # (base URL, **settings)
    model: str
    chat_path: str
    stream_path: str
    asks_to_stream: Callable[[Recorded], bool]
    stream_pieces: Callable[[str], list[str]]  # how the fake splits a streamed text
    usage: Callable[[FakeTurn], dict[str, int]]  # the Usage a turn's counts become
    stop_reason: Callable[[bool], str]  # given whether the reply calls tools
    connection_hint: str  # what a refused connection's message says
    server_statuses: tuple[int, ...]  # 5xx statuses this backend's API really sends
    stream_retry_status: int  # a retryable status a stream may fail with before it starts


def _endpoint(url: str, **fields: Any) -> Provider:
    """`[endpoints.cluster]` with its key in CLUSTER_KEY, as the registry builds it."""
    settings = Settings.load(
        {"CLUSTER_KEY": "k"},
        endpoints={"cluster": {"base_url": f"{url}/v1", "api_key_env": "CLUSTER_KEY"}},
        **{"retries": 2, **fields},
    )
    return Providers(settings).get("cluster")


def _provider(name: str, **fields: Any) -> Provider:
    """Backend `name` as the registry builds it from settings: two retries unless a test says
    otherwise."""
    return Providers(Settings.load(**{"retries": 2, **fields})).get(name)


def _usage(input_tokens: int, output_tokens: int, read: int = 0, write: int = 0) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
    }


GEMINI_MODEL = "gemini-2.5-flash"
BACKENDS = [
    Backend(
        name="ollama",
        fake_factory=FakeOllama,
        make_provider=lambda url, **s: _provider("ollama", ollama_host=url, **s),
        model="llama3.2",
        chat_path="/api/chat",
        stream_path="/api/chat",
        asks_to_stream=lambda request: request.body.get("stream") is True,
        stream_pieces=lambda text: re.findall(r"\S+\s*|\s+", text),
        usage=lambda t: _usage(t.input_tokens, t.output_tokens),  # Ollama has no prompt cache
        stop_reason=lambda calls_tools: "stop",
        connection_hint="ollama serve",
        server_statuses=(500,),
        stream_retry_status=429,
    ),
    Backend(
        name="gemini",
        fake_factory=FakeGemini,
        make_provider=lambda url, **s: _provider(
            "gemini", gemini_api_key="k", gemini_base_url=url, **s
        ),
        model=GEMINI_MODEL,
        chat_path=f"/v1beta/models/{GEMINI_MODEL}:generateContent",
        stream_path=f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent",
        asks_to_stream=lambda request: request.query == {"alt": ["sse"]},
        stream_pieces=lambda text: fake_gemini.pieces(text, 3),
        # The prompt count already includes the cached part.
        usage=lambda t: _usage(t.input_tokens, t.output_tokens, read=t.cached_tokens),
        stop_reason=lambda calls_tools: "STOP",
        connection_hint="cannot reach",
        server_statuses=(503,),
        stream_retry_status=429,
    ),
    Backend(
        name="anthropic",
        fake_factory=lambda: FakeAnthropic(api_key="k", cache_creation_tokens=CACHE_WRITE),
        make_provider=lambda url, **s: _provider(
            "anthropic", anthropic_api_key="k", anthropic_base_url=url, **s
        ),
        model="claude-sonnet-4-6",
        chat_path="/v1/messages",
        stream_path="/v1/messages",
        asks_to_stream=lambda request: request.body.get("stream") is True,
        stream_pieces=lambda text: fake_anthropic.pieces(text, 4),
        # Anthropic counts cached input apart; our input_tokens is the whole prompt.
        usage=lambda t: _usage(
            t.input_tokens + t.cached_tokens + CACHE_WRITE,
            t.output_tokens,
            read=t.cached_tokens,
            write=CACHE_WRITE,
        ),
        stop_reason=lambda calls_tools: "tool_use" if calls_tools else "end_turn",
        connection_hint="cannot reach",
        server_statuses=(500, 529),
        stream_retry_status=529,  # Anthropic's "overloaded"
    ),
    Backend(
        name="openai",
        fake_factory=FakeOpenAI,
        make_provider=lambda url, **s: _provider(
            "openai", openai_api_key="k", openai_base_url=f"{url}/v1", **s
        ),
        model="gpt-4.1-mini",
        chat_path="/v1/chat/completions",
        stream_path="/v1/chat/completions",
        asks_to_stream=lambda request: request.body.get("stream") is True,
        stream_pieces=lambda text: fake_openai.pieces(text, 4),
        # The prompt count already includes the cached part.
        usage=lambda t: _usage(t.input_tokens, t.output_tokens, read=t.cached_tokens),
        stop_reason=lambda calls_tools: "tool_calls" if calls_tools else "stop",
        connection_hint="cannot reach",
        server_statuses=(500, 503),
        stream_retry_status=429,
    ),
]
BACKENDS += [
    # a named OpenAI-compatible endpoint (`[endpoints.cluster]`): the openai wire format,
    # its own name, a key from the variable it names
    replace(
        BACKENDS[3],
        name="endpoint",
        make_provider=lambda url, **s: _endpoint(url, **s),
        model="served-model",
    ),
    # the ollama backend as a pool of hosts, talking to the one that has the model
    replace(
        BACKENDS[0],
        name="ollama-pool",
        make_provider=lambda url, **s: _provider("ollama", ollama_hosts=[url], **s),
    ),
]


def per_backend(field: str) -> list[Any]:
    """(backend, value) params for each value of a per-backend tuple, e.g. its 5xx statuses."""
    return [
        pytest.param(b, value, id=f"{b.name}-{value}")
        for b in BACKENDS
        for value in getattr(b, field)
    ]


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture(scope="module")
def running() -> Iterator[Callable[[Backend], FakeServer]]:
    """One fake per backend for the whole module, started when first needed."""
    with ExitStack() as stack:
        started: dict[str, FakeServer] = {}

        def start(backend: Backend) -> FakeServer:
            if backend.name not in started:
                started[backend.name] = stack.enter_context(backend.fake_factory())
            return started[backend.name]

        yield start


@pytest.fixture
def fake(backend: Backend, running: Callable[[Backend], FakeServer]) -> FakeServer:
    """The backend's fake, without earlier tests' requests or turns."""
    server = running(backend)
    server.reset()
    return server


@pytest.fixture
def provider(backend: Backend, fake: FakeServer) -> Provider:
    return backend.make_provider(fake.url)


def model_calls(backend: Backend, fake: FakeServer) -> list[Recorded]:
    """The requests that asked the model (Ollama's first one also asks /api/show)."""
    return [r for r in fake.requests if r.path in (backend.chat_path, backend.stream_path)]


async def collect(stream: AsyncIterator[StreamItem]) -> tuple[list[str], ModelResponse]:
    *deltas, final = [item async for item in stream]
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert isinstance(final, ModelResponse)
    return [d.text for d in deltas], final


async def ask(provider: Provider, model: str, streaming: bool) -> ModelResponse:
    if streaming:
        return (await collect(provider.stream(model, HI, [], 64)))[1]
    return await provider.complete(model, HI, [], 64)


STREAMED_TURNS = {
    "text": FakeTurn(text="The quick brown fox jumps over the lazy dog."),
    "text-and-tools": FakeTurn(
        text="It will snow in Oslo tomorrow.", tool_calls=[("weather", {"unit": "celsius"})]
    ),
    "tools": FakeTurn(
        tool_calls=[
            ("search", {"query": "quarterly report", "filters": {"year": 2024, "tags": ["a", "b"]}})
        ]
    ),
}


async def test_plain_answer_with_usage(
    backend: Backend, fake: FakeServer, provider: Provider
) -> None:
    turn = FakeTurn(text="Hello there", input_tokens=20, output_tokens=5, cached_tokens=8)
    fake.plan(backend.model, turn)

    response = await provider.complete(backend.model, HI, [], 256)

    assert response.text == "Hello there"
    assert response.tool_calls == []
    assert (response.model, response.stop_reason) == (backend.model, backend.stop_reason(False))
    assert response.usage.model_dump() == backend.usage(turn)
    [request] = model_calls(backend, fake)
    assert request.path == backend.chat_path
    assert not backend.asks_to_stream(request)


@pytest.mark.parametrize("shape", list(STREAMED_TURNS))
async def test_stream_yields_deltas_then_the_full_response(
    backend: Backend, fake: FakeServer, provider: Provider, shape: str
) -> None:
    turn = replace(STREAMED_TURNS[shape], input_tokens=30, output_tokens=9, cached_tokens=4)
    fake.plan(backend.model, turn)

    deltas, final = await collect(provider.stream(backend.model, HI, [], 64))

    assert deltas == backend.stream_pieces(turn.text), "each piece as it arrives"
    assert "".join(deltas) == final.text == turn.text
    assert [(c.name, c.arguments) for c in final.tool_calls] == turn.tool_calls
    assert final.usage.model_dump() == backend.usage(turn)
    assert final.stop_reason == backend.stop_reason(bool(turn.tool_calls))
    [request] = model_calls(backend, fake)
    assert request.path == backend.stream_path
    assert backend.asks_to_stream(request)


@pytest.mark.parametrize(
    ("status", "kind", "streaming"),
    [
        pytest.param(401, "auth", False, id="401-auth"),
        pytest.param(403, "auth", False, id="403-auth"),
        pytest.param(404, "not_found", False, id="404-not_found"),
        pytest.param(400, "bad_request", False, id="400-bad_request"),
        pytest.param(401, "auth", True, id="401-auth-stream"),  # before the stream starts
    ],
)
async def test_error_status_maps_to_kind(
    backend: Backend, fake: FakeServer, provider: Provider, status: int, kind: str, streaming: bool
) -> None:
    fake.plan(backend.model, FakeTurn(status=status, error_message="nope from the server"))

    with pytest.raises(ProviderError) as caught:
        await ask(provider, backend.model, streaming)

    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert not caught.value.retryable
    assert "nope from the server" in str(caught.value)


async def test_rate_limit_is_retried_by_chat_model_not_the_sdk(
    backend: Backend, fake: FakeServer, provider: Provider
) -> None:
    fake.plan(backend.model, FakeTurn(status=429), FakeTurn(text="second time lucky"))

    response = await ChatModel(provider, backend.model, retry_base_delay=0.001).complete(HI)

    assert response.text == "second time lucky"
    assert [r.path for r in model_calls(backend, fake)] == [backend.chat_path] * 2


async def test_stream_is_retried_before_anything_was_yielded(
    backend: Backend, fake: FakeServer, provider: Provider
) -> None:
    fake.plan(
        backend.model,
        FakeTurn(status=backend.stream_retry_status),
        FakeTurn(text="second time lucky"),
    )

    chat = ChatModel(provider, backend.model, retry_base_delay=0.001)
    deltas, final = await collect(chat.stream(HI))

    assert "".join(deltas) == final.text == "second time lucky"
    assert [r.path for r in model_calls(backend, fake)] == [backend.stream_path] * 2


@pytest.mark.parametrize(("backend", "status"), per_backend("server_statuses"))
async def test_server_errors_beyond_retries(
    backend: Backend, fake: FakeServer, provider: Provider, status: int
) -> None:
    fake.plan(backend.model, *[FakeTurn(status=status)] * 3, FakeTurn(text="too late"))

    with pytest.raises(ProviderError) as caught:
        await ChatModel(provider, backend.model, retry_base_delay=0.001).complete(HI)

    assert (caught.value.kind, caught.value.status) == ("server", status)
    # The first try and settings.retries == 2 more: ours only, none from the SDK.
    assert [r.path for r in model_calls(backend, fake)] == [backend.chat_path] * 3


async def test_connection_refused_names_the_address(backend: Backend) -> None:
    provider = backend.make_provider("http://127.0.0.1:9", retries=0)

    for streaming in (False, True):
        with pytest.raises(ProviderError, match=backend.connection_hint) as caught:
            await ask(provider, backend.model, streaming)

        assert caught.value.kind == "connection"
        assert "127.0.0.1:9" in str(caught.value)


async def test_slow_reply_is_a_timeout(backend: Backend, fake: FakeServer) -> None:
    provider = backend.make_provider(fake.url, request_timeout=0.05)
    fake.plan(backend.model, FakeTurn(text="late", delay=0.5))

    with pytest.raises(ProviderError) as caught:
        await provider.complete(backend.model, HI, [], 64)

    assert caught.value.kind == "timeout"
