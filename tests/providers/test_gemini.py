"""GeminiProvider against a fake speaking Gemini's REST wire format, through the real SDK."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from hashiru.errors import ProviderError
from hashiru.messages import Message, ToolCall, ToolResult, ToolSpec
from hashiru.providers import Providers
from hashiru.providers.base import ProviderConfig
from hashiru.providers.gemini import GeminiProvider
from hashiru.settings import Settings
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import FakeTurn

MODEL = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
HI = [Message.user("hi")]
HI_CONTENTS = [{"role": "user", "parts": [{"text": "hi"}]}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGemini]:
    """One server for the module: stopping one takes half a second (its poll interval)."""
    with FakeGemini(api_key="k") as running:
        yield running  # type: ignore[misc]


@pytest.fixture
def fake(server: FakeGemini) -> FakeGemini:
    server.reset()
    server.page_size, server.thoughts_tokens = 50, 0
    return server


def make_provider(base_url: str, key: str | None = "k", **overrides: Any) -> GeminiProvider:
    secret = SecretStr(key) if key else None
    return GeminiProvider(ProviderConfig(api_key=secret, base_url=base_url, retries=2, **overrides))


@pytest.fixture
def provider(fake: FakeGemini) -> GeminiProvider:
    return make_provider(fake.url)


def only_body(fake: FakeGemini, path: str = GENERATE) -> dict[str, Any]:
    [call] = fake.calls(path)
    return call.body


def declared_schemas(body: dict[str, Any]) -> dict[str, Any]:
    """Tool name -> parameter schema. Google's proto-JSON parser takes either field spelling."""
    [tool] = body["tools"]
    return {
        d["name"]: d.get("parametersJsonSchema", d.get("parameters_json_schema"))
        for d in tool["functionDeclarations"]
    }


async def test_plain_request_in_gemini_format(fake, provider) -> None:
    fake.plan(MODEL, FakeTurn(text="Hello there"))

    await provider.complete(MODEL, HI, [], 256)

    [call] = fake.calls(GENERATE)
    assert call.headers["x-goog-api-key"] == "k"
    assert call.body == {"contents": HI_CONTENTS, "generationConfig": {"maxOutputTokens": 256}}


async def test_thinking_tokens_count_as_output(fake, provider) -> None:
    fake.thoughts_tokens = 30
    fake.plan(MODEL, FakeTurn(text="42", input_tokens=10, output_tokens=2))

    response = await provider.complete(MODEL, HI, [], 256)

    assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 32)


async def test_tool_calls_are_parsed_with_distinct_ids(fake, provider) -> None:
    args = {"city": "Paris", "days": 3}
    fake.plan(
        MODEL,
        FakeTurn(text="Let me check.", tool_calls=[("get_weather", args), ("get_time", {})]),
    )

    response = await provider.complete(MODEL, HI, [], 256)

    assert response.text == "Let me check."
    first, second = response.tool_calls
    assert (first.name, first.arguments) == ("get_weather", args)
    assert (second.name, second.arguments) == ("get_time", {})
    assert first.id and second.id and first.id != second.id


async def test_tool_schema_arrives_intact(fake, provider) -> None:
    schema = {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "cities": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "options": {
                "type": "object",
                "properties": {"days": {"type": "integer"}, "hourly": {"type": "boolean"}},
                "required": ["days"],
                "additionalProperties": False,
            },
        },
        "required": ["unit", "cities"],
    }
    tools = [
        ToolSpec(name="forecast", description="Weather forecast.", parameters=schema),
        ToolSpec(name="noop", description="Does nothing.", parameters={"type": "object"}),
    ]
    fake.plan(MODEL, FakeTurn(text="ok"))

    await provider.complete(MODEL, HI, tools, 256)

    body = only_body(fake)
    assert declared_schemas(body) == {"forecast": schema, "noop": {"type": "object"}}
    descriptions = [d["description"] for d in body["tools"][0]["functionDeclarations"]]
    assert descriptions == ["Weather forecast.", "Does nothing."]


async def test_conversation_is_sent_in_gemini_format(fake, provider) -> None:
    messages = [
        Message.system("You are terse."),
        Message.system("Answer in French."),
        Message.user("Weather in Paris?"),
        Message(
            role="assistant",
            text="Checking.",
            tool_calls=[
                ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="c2", name="get_alerts", arguments={}),
            ],
        ),
        Message(
            role="tool",
            tool_results=[
                ToolResult(call_id="c1", name="get_weather", content='{"temp": 21}'),
                ToolResult(call_id="c2", name="get_alerts", content="timed out", is_error=True),
            ],
        ),
    ]
    fake.plan(MODEL, FakeTurn(text="Il fait 21 degrés."))

    await provider.complete(MODEL, messages, [], 256)

    body = only_body(fake)
    assert body["systemInstruction"]["parts"] == [{"text": "You are terse.\n\nAnswer in French."}]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "c2", "name": "get_alerts", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "c1",
                        "name": "get_weather",
                        "response": {"result": {"temp": 21}},
                    }
                },
                {
                    "functionResponse": {
                        "id": "c2",
                        "name": "get_alerts",
                        "response": {"error": "timed out"},
                    }
                },
            ],
        },
    ]


async def test_thought_signature_goes_back_with_its_function_call(fake, provider) -> None:
    fake.plan(MODEL, FakeTurn(tool_calls=[("a", {}), ("b", {})]), FakeTurn(text="done"))
    first = await provider.complete(MODEL, HI, [], 256)
    first = type(first).model_validate_json(first.model_dump_json())  # as after a restart
    results = [ToolResult(call_id=c.id, name=c.name, content="1") for c in first.tool_calls]

    await provider.complete(
        MODEL, [*HI, first.as_message(), Message(role="tool", tool_results=results)], [], 256
    )

    sent, replayed = fake.calls(GENERATE)
    assert sent.body["contents"] == HI_CONTENTS
    signed, unsigned = replayed.body["contents"][1]["parts"]
    # The fake signs the first of parallel calls only, as Gemini does.
    assert base64.b64decode(signed["thoughtSignature"]).startswith(b"fake-signature-")
    assert "thoughtSignature" not in unsigned


async def test_unknown_model_is_not_found(fake, provider) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete("gemini-0-nope", HI, [], 256)
    assert (caught.value.kind, caught.value.status) == ("not_found", 404)
    assert "gemini-0-nope" in str(caught.value)


async def test_wrong_key_is_auth_and_never_shown(fake) -> None:
    provider = make_provider(fake.url, key="wrong-secret-key")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, HI, [], 256)

    # Google answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    assert (caught.value.kind, caught.value.status) == ("auth", 400)
    assert "wrong-secret-key" not in str(caught.value)


async def test_list_models_keeps_chat_models_across_pages(fake, provider) -> None:
    fake.page_size = 1

    models = await provider.list_models()

    assert [(m.ref, m.context_tokens, m.local) for m in models] == [
        ("gemini:gemini-2.5-flash", 1_048_576, False),
        ("gemini:gemini-2.5-pro", 1_048_576, False),
    ]
    assert models[0].description == "Gemini 2.5 Flash"
    # Two chat models and one embedding model, one per page.
    assert len(fake.calls("/v1beta/models")) == 3


async def test_describe_finds_a_model_and_names_a_missing_one(fake, provider) -> None:
    info = await provider.describe("gemini-2.5-pro")
    assert (info.ref, info.context_tokens) == ("gemini:gemini-2.5-pro", 1_048_576)

    with pytest.raises(ProviderError) as caught:
        await provider.describe("gemini-9-ultra")
    assert caught.value.kind == "not_found"
    assert "no model 'gemini-9-ultra'" in str(caught.value)


async def test_without_a_key_it_is_unavailable(fake) -> None:
    provider = make_provider(fake.url, key=None)

    assert provider.unavailable_reason() == "set GEMINI_API_KEY or GOOGLE_API_KEY"
    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, HI, [], 256)
    assert caught.value.kind == "auth"
    assert fake.requests == []
    assert make_provider(fake.url).unavailable_reason() is None


@pytest.mark.parametrize("key_name", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
async def test_sdk_environment_names_are_honoured(fake, key_name: str) -> None:
    settings = Settings.load(environ={key_name: "k", "GOOGLE_GEMINI_BASE_URL": fake.url})
    fake.plan(MODEL, FakeTurn(text="via env"))

    response = await Providers(settings).get("gemini").complete(MODEL, HI, [], 256)

    assert response.text == "via env"
    assert fake.calls(GENERATE)[0].headers["x-goog-api-key"] == "k"
