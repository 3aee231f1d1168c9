"""The embedded llama.cpp model, for real: SmolLM2-135M from its wheel, no server, no download."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator, validate

from hashiru.errors import ProviderError
from hashiru.messages import Message, ToolSpec
from hashiru.providers import Providers
from hashiru.providers.embedded import (
    EmbeddedProvider,
    chat_messages,
    parse_decision,
    reply_schema,
)
from hashiru.settings import Settings

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
)
SYSTEM = Message.system("You are a helpful assistant.")


def test_reply_schema_accepts_an_answer_or_exactly_one_offered_call() -> None:
    schema = Draft202012Validator(reply_schema([WEATHER]))
    assert schema.is_valid({"answer": "hi"})
    assert schema.is_valid(
        {"tool": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}
    )
    for bad in (
        {"tool": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}},
        {"tool": "launch", "arguments": {}},
        {"tool": "get_weather"},
        {"answer": "x" * 601},
    ):
        assert not schema.is_valid(bad), bad


def test_tool_turns_are_replayed_as_the_json_the_model_writes() -> None:
    call = {"id": "1", "name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}
    history = [
        SYSTEM,
        Message.user("Weather in Oslo?"),
        Message(role="assistant", tool_calls=[call]),
        Message(
            role="tool",
            tool_results=[{"call_id": "1", "name": "get_weather", "content": '{"temp": 3}'}],
        ),
    ]
    chat = chat_messages(history, [WEATHER])
    assert chat[0]["content"].startswith("You are a helpful assistant.")
    assert "get_weather(city, unit): Current weather for a city." in chat[0]["content"]
    assert json.loads(chat[2]["content"]) == {"tool": "get_weather", "arguments": call["arguments"]}
    assert chat[3] == {"role": "user", "content": 'Result of get_weather: {"temp": 3}'}


def test_decisions_tolerate_raw_newlines_and_explain_truncation() -> None:
    assert parse_decision('{"answer": "two\nlines"}', "stop") == {"answer": "two\nlines"}
    with pytest.raises(ProviderError, match="HASHIRU_MAX_TOKENS"):
        parse_decision('{"answer": "unfinished', "length")


embedded = pytest.mark.skipif(
    EmbeddedProvider().unavailable_reason() is not None,
    reason="needs pip install 'hashiru[local]'",
)


@pytest.fixture
def model():
    return Providers(Settings.load()).model("embedded:smollm2-135m")


@pytest.mark.slow
@embedded
async def test_answers_a_prompt_with_usage(model) -> None:
    response = await model.complete([SYSTEM, Message.user("Say hello in French.")])
    assert "bonjour" in response.text.lower()
    assert response.usage.input_tokens > 10 and response.usage.output_tokens > 0


@pytest.mark.slow
@embedded
async def test_produces_a_valid_tool_call(model) -> None:
    response = await model.complete(
        [SYSTEM, Message.user("Call get_weather for Paris in celsius.")], [WEATHER]
    )
    assert [c.name for c in response.tool_calls] == ["get_weather"]
    validate(response.tool_calls[0].arguments, WEATHER.parameters)
    assert response.tool_calls[0].arguments["city"] == "Paris"


@pytest.mark.slow
@embedded
async def test_describe_reports_the_gguf_size() -> None:
    info = await EmbeddedProvider().describe("smollm2-135m")
    assert info.ref == "embedded:smollm2-135m" and info.local
    assert 80_000_000 < info.memory_bytes < 120_000_000
