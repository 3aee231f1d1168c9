"""OpenAIProvider against a fake speaking Chat Completions, through the real `openai` SDK.

The contract suite covers what every backend shares; here is what is OpenAI's own: the request
shape, tool calls as JSON text, the usage chunk of a stream, its error bodies and its prices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from hashiru.agents.loop import _run_tool
from hashiru.economy.prices import PriceBook
from hashiru.errors import ProviderError
from hashiru.messages import Message, TextDelta, ToolCall, ToolResult, ToolSpec
from hashiru.providers import Providers
from hashiru.providers.base import ChatModel, ProviderConfig
from hashiru.providers.openai import OpenAIProvider
from hashiru.settings import Settings
from hashiru.tools import tool
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeTurn

MODEL = "gpt-4.1-mini"
HI = [Message.user("hi")]
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="k") as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    """The module's fake, without earlier tests' requests, turns or settings."""
    server.reset()
    server.malformed_arguments = None
    server.window = None
    return server


def make_provider(base_url: str, key: str | None = "k", **overrides: Any) -> OpenAIProvider:
    secret = SecretStr(key) if key else None
    return OpenAIProvider(
        ProviderConfig(api_key=secret, base_url=f"{base_url}/v1", retries=2, **overrides)
    )


@pytest.fixture
def provider(fake: FakeOpenAI) -> OpenAIProvider:
    return make_provider(fake.url)


def only_body(fake: FakeOpenAI) -> dict[str, Any]:
    [call] = fake.calls("/v1/chat/completions")
    return call.body


async def test_request_in_chat_completions_format(fake, provider) -> None:
    fake.plan(MODEL, FakeTurn(text="Hello"))

    await provider.complete(MODEL, [Message.system("Be brief."), *HI], [WEATHER], 256)

    [call] = fake.calls("/v1/chat/completions")
    assert call.headers["authorization"] == "Bearer k"
    assert call.body == {
        "model": MODEL,
        "max_completion_tokens": 256,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather in a city.",
                    "parameters": WEATHER.parameters,
                },
            }
        ],
    }


async def test_tool_call_round_trip(fake, provider) -> None:
    fake.plan(MODEL, FakeTurn(tool_calls=[("get_weather", {"city": "Oslo"})]))
    fake.plan(MODEL, FakeTurn(text="Snow."))

    first = await provider.complete(MODEL, HI, [WEATHER], 64)
    [call] = first.tool_calls
    assert (call.name, call.arguments, first.stop_reason) == (
        "get_weather",
        {"city": "Oslo"},
        "tool_calls",
    )
    result = ToolResult(call_id=call.id, name=call.name, content='{"sky":"snow"}')
    history = [*HI, first.as_message(), Message(role="tool", tool_results=[result])]
    second = await provider.complete(MODEL, history, [WEATHER], 64)

    assert second.text == "Snow."  # the fake refuses results that answer no call
    sent = fake.calls("/v1/chat/completions")[1].body["messages"]
    assert sent[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky":"snow"}'},
    ]


async def test_an_unanswered_call_is_refused_as_openai_refuses_it(fake, provider) -> None:
    history = [*HI, Message(role="assistant", tool_calls=[ToolCall(id="c1", name="x")]), *HI]

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, history, [], 64)

    assert (caught.value.kind, caught.value.status) == ("bad_request", 400)
    assert "did not have response messages: c1" in str(caught.value)


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_malformed_arguments_become_a_tool_error_not_a_crash(
    fake, provider, streaming: bool
) -> None:
    fake.malformed_arguments = '{"city": "Oslo'
    fake.plan(MODEL, FakeTurn(tool_calls=[("report", {"city": "Oslo"})]))

    if streaming:
        *_, response = [item async for item in provider.stream(MODEL, HI, [], 64)]
    else:
        response = await provider.complete(MODEL, HI, [], 64)

    [call] = response.tool_calls
    assert (call.name, call.arguments, call.arguments_error) == ("report", {}, '{"city": "Oslo')

    async def report(city: str) -> str:
        """Report a city."""
        return city

    result, _ = await _run_tool(call, {"report": tool(report)}, lambda event: None)
    error = json.loads(result.content)["error"]
    assert result.is_error and "arguments for report are not a JSON object" in error
    assert '{"city": "Oslo' in error, "the model sees what it sent"


async def test_stream_asks_for_usage_and_reads_it_from_the_last_chunk(fake, provider) -> None:
    fake.plan(
        MODEL,
        FakeTurn(text="Hello there", input_tokens=40, output_tokens=6, cached_tokens=32),
    )

    items = [item async for item in provider.stream(MODEL, HI, [], 64)]

    assert all(isinstance(i, TextDelta) for i in items[:-1])
    final = items[-1]
    assert final.usage.model_dump() == {
        "input_tokens": 40,
        "output_tokens": 6,
        "cache_read_tokens": 32,
        "cache_write_tokens": 0,
    }
    assert only_body(fake)["stream_options"] == {"include_usage": True}


async def test_exact_dollars_for_an_openai_model_with_cached_input(fake, provider) -> None:
    # gpt-4.1-mini in genai-prices: $0.40 input, $0.10 cached input, $1.60 output per million.
    fake.plan(MODEL, FakeTurn(text="ok", input_tokens=1000, output_tokens=500, cached_tokens=400))

    response = await provider.complete(MODEL, HI, [], 64)

    cost = PriceBook().cost("openai", MODEL, response.usage)
    assert cost == Decimal("0.00024") + Decimal("0.00004") + Decimal("0.0008")


async def test_a_wrong_key_is_an_auth_error(fake) -> None:
    provider = make_provider(fake.url, key="wrong")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, HI, [], 64)

    assert (caught.value.kind, caught.value.status) == ("auth", 401)
    assert "Incorrect API key provided. (invalid_api_key)" in str(caught.value)


async def test_rate_limit_then_success_and_server_error(fake, provider) -> None:
    fake.plan(MODEL, FakeTurn(status=429, error_message="slow down"), FakeTurn(text="fine"))
    chat = ChatModel(provider, MODEL, retry_base_delay=0.001)

    assert (await chat.complete(HI)).text == "fine"

    fake.plan(MODEL, FakeTurn(status=500, error_message="The server had an error"))
    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, HI, [], 64)
    assert (caught.value.kind, caught.value.status) == ("server", 500)
    assert "The server had an error (server_error)" in str(caught.value)


async def test_a_prompt_over_the_window_is_a_context_length_error(fake, provider) -> None:
    fake.window = 50

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, [Message.user("word " * 60)], [], 10)

    assert (caught.value.kind, caught.value.status) == ("bad_request", 400)
    assert "(context_length_exceeded)" in str(caught.value)
    assert fake.overflows


def test_without_a_key_it_says_what_to_set() -> None:
    provider = Providers(Settings.load(environ={})).get("openai")

    assert provider.unavailable_reason() == "set OPENAI_API_KEY"


def test_settings_read_the_usual_environment_names() -> None:
    environ = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
    config = Providers(Settings.load(environ=environ)).config("openai")

    assert config.api_key == SecretStr("sk-x")
    assert (config.base_url, config.default_model) == ("http://127.0.0.1:8000/v1", MODEL)


async def test_models_are_listed_from_v1_models_with_known_windows(fake, provider) -> None:
    models = await provider.list_models()

    assert [(m.ref, m.context_tokens, m.local) for m in models] == [
        ("openai:gpt-4.1-mini", 1_047_576, False),
        ("openai:gpt-4o-mini", 128_000, False),
    ]
    assert (await provider.describe("gpt-4o-mini")).context_tokens == 128_000
    with pytest.raises(ProviderError) as caught:
        await provider.describe("gpt-nope")
    assert caught.value.kind == "not_found"
