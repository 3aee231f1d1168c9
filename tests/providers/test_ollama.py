"""OllamaProvider against a fake Ollama server: requests as Ollama expects them, replies parsed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hashiru.errors import ProviderError
from hashiru.messages import (
    Message,
    ModelResponse,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from hashiru.providers.base import ChatModel
from hashiru.providers.ollama import OllamaProvider
from hashiru.settings import Settings
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeTurn

MODEL = "llama3.2"
SCHEMA = {
    "type": "object",
    "properties": {
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "scale"},
        "cities": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "window": {
            "type": "object",
            "properties": {
                "days": {"type": "integer", "minimum": 1},
                "hourly": {"type": "boolean"},
            },
            "required": ["days"],
            "additionalProperties": False,
        },
    },
    "required": ["unit", "cities"],
}
WEATHER = ToolSpec(name="weather", description="Forecast for some cities.", parameters=SCHEMA)
QUESTION = [Message.system("Be brief."), Message.user("Weather in Oslo?")]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def provider(fake: FakeOllama) -> OllamaProvider:
    return OllamaProvider(Settings.load(ollama_host=fake.url, retries=2))


async def test_plain_answer_with_usage(fake: FakeOllama, provider: OllamaProvider) -> None:
    fake.plan(MODEL, FakeTurn(text="Cold and clear.", input_tokens=42, output_tokens=5))

    response = await provider.complete(MODEL, QUESTION, [], max_tokens=64)

    assert response.text == "Cold and clear."
    assert response.tool_calls == []
    assert (response.usage.input_tokens, response.usage.output_tokens) == (42, 5)
    assert (response.model, response.stop_reason) == (MODEL, "stop")
    body = fake.calls("/api/chat")[0].body
    assert body["stream"] is False
    assert body["options"] == {"num_predict": 64}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]
    assert "tools" not in body


async def test_tool_call_parsed_and_schema_sent_intact(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    arguments = {"unit": "celsius", "cities": ["Oslo", "Bergen"], "window": {"days": 2}}
    fake.plan(
        MODEL, FakeTurn(tool_calls=[("weather", arguments), ("weather", {"unit": "fahrenheit"})])
    )

    response = await provider.complete(MODEL, QUESTION, [WEATHER], max_tokens=64)

    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("weather", arguments),
        ("weather", {"unit": "fahrenheit"}),
    ]
    assert len({c.id for c in response.tool_calls}) == 2, "each call gets its own id"
    assert fake.calls("/api/chat")[0].body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Forecast for some cities.",
                "parameters": SCHEMA,
            },
        }
    ]


async def test_tool_round_trip_sent_in_ollama_format(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    fake.plan(MODEL, FakeTurn(text="Oslo: -3 C, Bergen: 4 C."))
    call = ToolCall(id="call_0", name="weather", arguments={"unit": "celsius", "cities": ["Oslo"]})
    history = [
        *QUESTION,
        Message(role="assistant", text="Checking.", tool_calls=[call]),
        Message(
            role="tool",
            tool_results=[
                ToolResult(call_id="call_0", name="weather", content='{"Oslo": -3}'),
                ToolResult(
                    call_id="call_1", name="clock", content='{"error": "down"}', is_error=True
                ),
            ],
        ),
    ]

    response = await provider.complete(MODEL, history, [WEATHER], max_tokens=64)

    assert response.text == "Oslo: -3 C, Bergen: 4 C."
    assert fake.calls("/api/chat")[0].body["messages"][2:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "function": {
                        "name": "weather",
                        "arguments": {"unit": "celsius", "cities": ["Oslo"]},
                    }
                }
            ],
        },
        {"role": "tool", "content": '{"Oslo": -3}', "tool_name": "weather"},
        {"role": "tool", "content": '{"error": "down"}', "tool_name": "clock"},
    ]


async def test_stream_yields_deltas_then_full_response(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    text = "It will snow in Oslo tomorrow."
    fake.plan(
        MODEL,
        FakeTurn(
            text=text,
            tool_calls=[("weather", {"unit": "celsius"})],
            input_tokens=30,
            output_tokens=9,
        ),
    )

    items = [item async for item in provider.stream(MODEL, QUESTION, [WEATHER], max_tokens=64)]

    deltas = [item.text for item in items if isinstance(item, TextDelta)]
    final = items[-1]
    assert len(deltas) >= 3
    assert isinstance(final, ModelResponse)
    assert "".join(deltas) == final.text == text
    assert [(c.name, c.arguments) for c in final.tool_calls] == [("weather", {"unit": "celsius"})]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (30, 9)
    assert fake.calls("/api/chat")[0].body["stream"] is True


@pytest.mark.parametrize(
    ("status", "kind"), [(404, "not_found"), (401, "auth"), (400, "bad_request")]
)
async def test_error_status_maps_to_kind(
    fake: FakeOllama, provider: OllamaProvider, status: int, kind: str
) -> None:
    fake.plan(MODEL, FakeTurn(status=status, error_message="nope from ollama"))

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, QUESTION, [], max_tokens=64)

    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert "nope from ollama" in str(caught.value)


async def test_missing_model_suggests_pull(fake: FakeOllama, provider: OllamaProvider) -> None:
    fake.plan("mistral", FakeTurn(status=404, error_message="model 'mistral' not found"))

    with pytest.raises(ProviderError, match="ollama pull mistral") as caught:
        await provider.complete("mistral", QUESTION, [], max_tokens=64)

    assert caught.value.kind == "not_found"


async def test_streamed_error_status_maps_to_kind(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    fake.plan(MODEL, FakeTurn(status=401, error_message="unauthorized"))

    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream(MODEL, QUESTION, [], max_tokens=64):
            pass

    assert caught.value.kind == "auth"


async def test_rate_limit_is_retried_by_chat_model(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    fake.plan(MODEL, FakeTurn(status=429), FakeTurn(text="second time lucky"))

    response = await ChatModel(provider, MODEL, retry_base_delay=0.01).complete(QUESTION)

    assert response.text == "second time lucky"
    assert len(fake.calls("/api/chat")) == 2


async def test_server_error_beyond_retries(fake: FakeOllama, provider: OllamaProvider) -> None:
    fake.plan(MODEL, *[FakeTurn(status=500)] * 3, FakeTurn(text="too late"))

    with pytest.raises(ProviderError) as caught:
        await ChatModel(provider, MODEL, retry_base_delay=0.01).complete(QUESTION)

    assert caught.value.kind == "server"
    assert len(fake.calls("/api/chat")) == 3  # the first try and settings.retries == 2 more


@pytest.mark.parametrize("streaming", [False, True])
async def test_connection_refused_tells_user_to_start_ollama(streaming: bool) -> None:
    provider = OllamaProvider(Settings.load(ollama_host="http://127.0.0.1:9", retries=0))

    with pytest.raises(ProviderError, match="ollama serve") as caught:
        if streaming:
            async for _ in provider.stream(MODEL, QUESTION, [], max_tokens=64):
                pass
        else:
            await provider.complete(MODEL, QUESTION, [], max_tokens=64)

    assert caught.value.kind == "connection"
    assert "127.0.0.1:9" in str(caught.value)


async def test_slow_reply_is_a_timeout(fake: FakeOllama) -> None:
    provider = OllamaProvider(Settings.load(ollama_host=fake.url, request_timeout=0.1))
    fake.plan(MODEL, FakeTurn(text="late", delay=0.5))

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, QUESTION, [], max_tokens=64)

    assert caught.value.kind == "timeout"


async def test_list_models(fake: FakeOllama, provider: OllamaProvider) -> None:
    fake.context_length = 32_768

    models = await provider.list_models()

    assert [(m.ref, m.memory_bytes, m.context_tokens, m.local) for m in models] == [
        ("ollama:llama3.2:latest", 2_019_393_189, 32_768, True),
        ("ollama:qwen3:0.6b", 522_653_767, 32_768, True),
    ]
    assert models[0].description == "llama 3.2B Q4_K_M"


async def test_describe_accepts_name_without_tag(
    fake: FakeOllama, provider: OllamaProvider
) -> None:
    info = await provider.describe(MODEL)

    assert info.ref == "ollama:llama3.2"
    assert (info.context_tokens, info.memory_bytes) == (131_072, 2_019_393_189)
    assert fake.calls("/api/show")[0].body == {"model": MODEL}


async def test_describe_unknown_model_says_pull(provider: OllamaProvider) -> None:
    with pytest.raises(ProviderError, match="ollama pull mistral:7b") as caught:
        await provider.describe("mistral:7b")

    assert caught.value.kind == "not_found"
