"""OllamaProvider against a fake Ollama server: requests as Ollama expects them, replies parsed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hashiru.errors import ProviderError
from hashiru.messages import (
    Message,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from hashiru.providers.base import ProviderConfig
from hashiru.providers.ollama import OllamaProvider
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


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllama]:
    with FakeOllama() as running:
        yield running


@pytest.fixture
def fake(server: FakeOllama) -> FakeOllama:
    """The module's fake, as a fresh one would be: no requests, turns or loaded models."""
    server.reset()
    server.loaded.clear()
    server.context_length = 131_072
    return server


@pytest.fixture
def provider(fake: FakeOllama) -> OllamaProvider:
    return OllamaProvider(ProviderConfig(base_url=fake.url, retries=2))


async def test_plain_request_in_ollama_format(fake: FakeOllama, provider: OllamaProvider) -> None:
    fake.plan(MODEL, FakeTurn(text="Cold and clear."))

    await provider.complete(MODEL, QUESTION, [], max_tokens=64)

    [call] = fake.calls("/api/chat")
    body = call.body
    assert body["stream"] is False
    assert body["options"] == {"num_predict": 64, "num_ctx": 131_072}  # the model's window
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


async def test_missing_model_suggests_pull(fake: FakeOllama, provider: OllamaProvider) -> None:
    fake.plan("mistral", FakeTurn(status=404, error_message="model 'mistral' not found"))

    with pytest.raises(ProviderError, match="ollama pull mistral") as caught:
        await provider.complete("mistral", QUESTION, [], max_tokens=64)

    assert caught.value.kind == "not_found"


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
