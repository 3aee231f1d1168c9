"""The fakes hold requests to a window and refuse orphaned tool results as the real APIs do, and
our providers turn those refusals into a clear bad_request; the fakes' own counts and scripting."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest

from hashiru.errors import ProviderError
from hashiru.messages import Message, ToolCall, ToolResult, ToolSpec
from hashiru.providers import ChatModel, Providers
from hashiru.providers.base import Provider
from hashiru.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import PER_MESSAGE, FakeServer, FakeTurn, tokens

HI = [Message.system("Be brief."), Message.user("hi")]
LONG = [Message.system("Be brief."), Message.user("word " * 100)]
WEATHER = ToolSpec(name="weather", description="Forecast.", parameters={"type": "object"})
CALL = ToolCall(id="toolu_1", name="weather", arguments={"city": "Oslo"})


def result(call_id: str) -> Message:
    return Message(
        role="tool", tool_results=[ToolResult(call_id=call_id, name="weather", content="-3 C")]
    )


@dataclass(frozen=True)
class Cloud:
    """A cloud backend's fake and the 400 messages its real API answers these mistakes with."""

    name: str
    fake: Callable[[], FakeServer]
    model: str
    orphan_result: str
    unanswered_call: str
    too_long: str


CLOUDS = [
    Cloud(
        name="anthropic",
        fake=FakeAnthropic,
        model="claude-sonnet-4-6",
        orphan_result=(
            "messages.0.content.1: unexpected `tool_use_id` found in `tool_result` blocks: "
            "toolu_gone. Each `tool_result` block must have a corresponding `tool_use` block in "
            "the previous message."
        ),
        unanswered_call=(
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block "
            "in the next message."
        ),
        too_long="prompt is too long: 111 tokens > 50 maximum",
    ),
    Cloud(
        name="gemini",
        fake=FakeGemini,
        model="gemini-2.5-flash",
        orphan_result=(
            "Please ensure that function response turn comes immediately after a function call "
            "turn."
        ),
        unanswered_call=(
            "Please ensure that the number of function response parts is equal to the number of "
            "function call parts of the function call turn."
        ),
        too_long=("The input token count (111) exceeds the maximum number of tokens allowed (50)."),
    ),
]


@pytest.fixture(params=CLOUDS, ids=lambda c: c.name)
def cloud(request: pytest.FixtureRequest) -> Cloud:
    return request.param


@pytest.fixture
def fake(cloud: Cloud) -> Iterator[FakeServer]:
    with cloud.fake() as running:
        yield running


def provider_for(cloud: Cloud, fake: FakeServer) -> Provider:
    settings = {f"{cloud.name}_api_key": "k", f"{cloud.name}_base_url": fake.url}
    return Providers(Settings.load(retries=0, **settings)).get(cloud.name)


async def refusal(
    provider: Provider, model: str, messages: list[Message], tools: Sequence[ToolSpec] = (WEATHER,)
) -> ProviderError:
    for streaming in (False, True):  # refused before anything streams, the same way
        with pytest.raises(ProviderError) as caught:
            if streaming:
                [_ async for _ in provider.stream(model, messages, tools, 64)]
            else:
                await provider.complete(model, messages, tools, 64)
        assert (caught.value.kind, caught.value.status) == ("bad_request", 400)
        assert not caught.value.retryable
    return caught.value


async def test_a_tool_result_without_its_call_is_refused(cloud: Cloud, fake: FakeServer) -> None:
    fake.plan(cloud.model, FakeTurn(text="never sent"))
    provider = provider_for(cloud, fake)

    error = await refusal(provider, cloud.model, [Message.user("hi"), result("toolu_gone")])

    assert cloud.orphan_result in str(error)
    assert len(fake.turns[cloud.model]) == 1, "a refused request uses no planned turn"
    assert [p.error for p in fake.prompts] == [cloud.orphan_result] * 2


async def test_a_tool_call_without_its_result_is_refused(cloud: Cloud, fake: FakeServer) -> None:
    messages = [
        Message.user("hi"),
        Message(role="assistant", tool_calls=[CALL]),
        Message.user("and?"),
    ]

    error = await refusal(provider_for(cloud, fake), cloud.model, messages)

    assert cloud.unanswered_call in str(error)


async def test_gemini_refuses_a_conversation_that_starts_with_a_call() -> None:
    gemini = CLOUDS[1]
    messages = [Message(role="assistant", tool_calls=[CALL]), result(CALL.id)]

    with FakeGemini() as fake:
        error = await refusal(provider_for(gemini, fake), gemini.model, messages)

    assert (
        "Please ensure that function call turn comes immediately after a user turn or after a "
        "function response turn."
    ) in str(error)


async def test_a_paired_call_and_result_are_served(cloud: Cloud, fake: FakeServer) -> None:
    fake.plan(cloud.model, FakeTurn(text="Cold."))
    messages = [Message.user("hi"), Message(role="assistant", tool_calls=[CALL]), result(CALL.id)]

    response = await provider_for(cloud, fake).complete(cloud.model, messages, [WEATHER], 64)

    assert response.text == "Cold."
    assert [p.fits for p in fake.prompts] == [True]


async def test_a_prompt_longer_than_the_window_is_refused(cloud: Cloud, fake: FakeServer) -> None:
    fake.window = 50

    error = await refusal(provider_for(cloud, fake), cloud.model, LONG, tools=[])

    assert cloud.too_long in str(error)
    assert [(p.tokens, p.limit, p.overflow) for p in fake.overflows] == [(111, 50, True)] * 2


async def test_anthropic_also_holds_max_tokens_to_the_window() -> None:
    with FakeAnthropic() as fake:
        fake.window = 120
        provider = provider_for(CLOUDS[0], fake)

        with pytest.raises(ProviderError) as caught:
            await provider.complete("claude-sonnet-4-6", LONG, [], 64)

    assert caught.value.kind == "bad_request"
    assert (
        "input length and `max_tokens` exceed context limit: 111 + 64 > 120, decrease input "
        "length or `max_tokens` and try again"
    ) in str(caught.value)


async def test_the_fakes_count_and_report_the_prompt(cloud: Cloud, fake: FakeServer) -> None:
    fake.count_prompt = True
    fake.plan(cloud.model, FakeTurn(text="ok", input_tokens=999), FakeTurn(text="ok"))
    provider = provider_for(cloud, fake)

    short = await provider.complete(cloud.model, HI, [], 64)
    long = await provider.complete(cloud.model, LONG, [], 64)

    # "Be brief." is 3 tokens, "hi" 1, and each message (system included) adds a few.
    assert short.usage.input_tokens == 3 + 1 + 2 * PER_MESSAGE == fake.prompts[0].tokens
    assert long.usage.input_tokens == 3 + tokens("word " * 100) + 2 * PER_MESSAGE
    assert [(p.system, p.messages) for p in fake.prompts] == [("Be brief.", 1)] * 2


async def test_ollama_cuts_a_prompt_past_num_ctx_from_the_front() -> None:
    with FakeOllama() as fake:
        fake.count_prompt = True
        provider = Providers(Settings.load(ollama_host=fake.url, ollama_num_ctx=512)).get("ollama")
        fake.plan("qwen3:0.6b", FakeTurn(text="fits"), FakeTurn(text="cut"))

        fits = await provider.complete("qwen3:0.6b", HI, [], 64)
        cut = await provider.complete("qwen3:0.6b", [*HI, Message.user("word " * 600)], [], 64)

    assert fits.usage.input_tokens == 12 and cut.usage.input_tokens == 512  # what it read
    assert [(p.limit, p.tokens, p.overflow) for p in fake.prompts] == [
        (512, 12, False),
        (512, 12 + 600 + PER_MESSAGE, True),
    ]
    assert fake.overflows == fake.prompts[1:]
    assert all(p.system == "Be brief." for p in fake.prompts)


async def test_a_run_of_any_length_is_scripted_with_plan_forever() -> None:
    with FakeOllama() as fake:
        chat = Providers(Settings.load(ollama_host=fake.url)).model("ollama:qwen3:0.6b")
        assert isinstance(chat, ChatModel)
        fake.plan("qwen3:0.6b", FakeTurn(text="planned first"))
        fake.plan_forever(
            "qwen3:0.6b",
            lambda n: (
                FakeTurn(tool_calls=[("weather", {"n": n})]) if n < 50 else FakeTurn(text="done")
            ),
        )

        replies = [await chat.complete(HI, [WEATHER]) for _ in range(52)]

        fake.reset()
        with pytest.raises(ProviderError, match="no planned turn"):
            await chat.complete(HI)

    assert replies[0].text == "planned first" and replies[-1].text == "done"
    assert [r.tool_calls[0].arguments for r in replies[1:-1]] == [{"n": n} for n in range(50)]
