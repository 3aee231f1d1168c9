"""AnthropicProvider against a fake speaking Anthropic's wire format, through the real SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolResult, ToolSpec
from hashiru.providers import Providers
from hashiru.providers.anthropic import AnthropicProvider
from hashiru.providers.base import ProviderConfig
from hashiru.settings import Settings
from tests.fakes.anthropic import FakeAnthropic, keys_sent
from tests.fakes.server import FakeTurn

MODEL = "claude-sonnet-4-6"
HI = [Message.user("hi")]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="k", cache_creation_tokens=3) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    """The module's fake (each stop costs 0.5 s), without earlier tests' requests or turns."""
    server.reset()
    server.errors_in_stream = False
    return server


def make_provider(base_url: str, key: str | None = "k", **overrides: Any) -> AnthropicProvider:
    secret = SecretStr(key) if key else None
    return AnthropicProvider(
        ProviderConfig(api_key=secret, base_url=base_url, retries=2, **overrides)
    )


@pytest.fixture
def provider(fake: FakeAnthropic) -> AnthropicProvider:
    return make_provider(fake.url)


def only_body(fake: FakeAnthropic) -> dict[str, Any]:
    [call] = fake.calls("/v1/messages")
    return call.body


async def test_plain_request_in_anthropic_format(fake, provider) -> None:
    fake.plan(MODEL, FakeTurn(text="Hello there"))

    await provider.complete(MODEL, HI, [], 256)

    [call] = fake.calls("/v1/messages")
    assert "k" in keys_sent(call.headers)
    assert call.body == {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


async def test_tool_call_is_parsed(fake, provider) -> None:
    args = {"city": "Paris", "days": 3}
    fake.plan(MODEL, FakeTurn(text="Let me check.", tool_calls=[("get_weather", args)]))

    response = await provider.complete(MODEL, HI, [], 256)

    assert response.text == "Let me check."
    assert response.stop_reason == "tool_use"
    [call] = response.tool_calls
    assert (call.name, call.arguments) == ("get_weather", args)
    assert call.id.startswith("toolu_")


async def test_tool_schema_arrives_intact(fake, provider) -> None:
    schema = {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["c", "f"]},
            "cities": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "window": {
                "type": "object",
                "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}},
                "required": ["from"],
            },
        },
        "required": ["cities", "unit"],
    }
    fake.plan(MODEL, FakeTurn(text="ok"))

    await provider.complete(
        MODEL, HI, [ToolSpec(name="weather", description="W.", parameters=schema)], 64
    )

    assert only_body(fake)["tools"] == [
        {"name": "weather", "description": "W.", "input_schema": schema}
    ]


async def test_conversation_uses_anthropic_turns(fake, provider) -> None:
    calls = [
        ToolCall(id="toolu_1", name="add", arguments={"a": 1}),
        ToolCall(id="toolu_2", name="ls"),
    ]
    results = [
        ToolResult(call_id="toolu_1", name="add", content='{"sum": 1}'),
        ToolResult(call_id="toolu_2", name="ls", content="denied", is_error=True),
    ]
    conversation = [
        Message.system("You are the CEO."),
        Message.system("Be brief."),
        Message.user("Add and list."),
        Message(role="assistant", text="On it.", tool_calls=calls),
        Message(role="tool", tool_results=results),
        Message.user("Carry on."),
    ]
    fake.plan(MODEL, FakeTurn(text="done"))

    await provider.complete(MODEL, conversation, [], 64)

    body = only_body(fake)
    assert body["system"] == "You are the CEO.\n\nBe brief."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Add and list."}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "On it."},
                {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 1}},
                {"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": '{"sum": 1}',
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "denied",
                    "is_error": True,
                },
                {"type": "text", "text": "Carry on."},
            ],
        },
    ]


async def collect(stream) -> tuple[list[str], ModelResponse]:
    items = [item async for item in stream]
    *deltas, final = items
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert isinstance(final, ModelResponse)
    return [d.text for d in deltas], final


async def test_wrong_key_is_auth_and_never_shown(fake) -> None:
    provider = make_provider(fake.url, key="sk-wrong-secret")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MODEL, HI, [], 64)

    assert (caught.value.kind, caught.value.status) == ("auth", 401)
    assert "sk-wrong-secret" not in str(caught.value)


async def test_error_event_inside_a_stream_keeps_its_kind(fake, provider) -> None:
    fake.errors_in_stream = True
    fake.plan(MODEL, FakeTurn(status=529, error_message="Overloaded"), FakeTurn(text="ok"))

    with pytest.raises(ProviderError) as caught:
        await collect(provider.stream(MODEL, HI, [], 64))
    assert (caught.value.kind, caught.value.status) == ("server", 529)
    assert "Overloaded (overloaded_error)" in str(caught.value)

    deltas, final = await collect(provider.stream(MODEL, HI, [], 64))
    assert "".join(deltas) == final.text == "ok"


async def test_list_models(fake, provider) -> None:
    models = await provider.list_models()

    assert [m.ref for m in models] == ["anthropic:claude-sonnet-4-6", "anthropic:claude-haiku-4-5"]
    assert all(m.provider == "anthropic" and not m.local for m in models)
    assert models[0].description == "Claude Sonnet 4 6"
    assert [m.context_tokens for m in models] == [200_000, None]


async def test_describe(fake, provider) -> None:
    found = await provider.describe("claude-haiku-4-5")
    assert (found.ref, found.description) == ("anthropic:claude-haiku-4-5", "Claude Haiku 4 5")

    with pytest.raises(ProviderError) as caught:
        await provider.describe("claude-nonexistent")
    assert caught.value.kind == "not_found"
    assert "claude-nonexistent" in str(caught.value)


async def test_describe_with_a_wrong_key_is_auth(fake) -> None:
    with pytest.raises(ProviderError) as caught:
        await make_provider(fake.url, key="bad").describe(MODEL)

    assert caught.value.kind == "auth"


async def test_unavailable_without_a_key() -> None:
    assert make_provider("http://127.0.0.1:9", key=None).unavailable_reason() == (
        "set ANTHROPIC_API_KEY"
    )
    assert make_provider("http://127.0.0.1:9").unavailable_reason() is None


async def test_calls_without_a_key_fail_as_auth() -> None:
    with pytest.raises(ProviderError) as caught:
        await make_provider("http://127.0.0.1:9", key=None).list_models()

    assert caught.value.kind == "auth"
    assert "ANTHROPIC_API_KEY" in str(caught.value)


async def test_environment_names_are_honoured(fake) -> None:
    settings = Settings.load(environ={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": fake.url})
    fake.plan(MODEL, FakeTurn(text="from env"))

    response = await Providers(settings).get("anthropic").complete(MODEL, HI, [], 64)

    assert response.text == "from env"
    assert len(fake.calls("/v1/messages")) == 1
