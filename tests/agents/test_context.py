"""Context keeping: every request fits its model's window, the CEO's and each employee's."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest

from hashiru.agents.context import ContextConfig, ContextKeeper, TokenCounter
from hashiru.agents.events import ContextCompacted, Event
from hashiru.errors import BudgetExceeded
from hashiru.messages import Message, ModelResponse, ToolCall, ToolResult, ToolSpec, Usage
from hashiru.providers.base import ProviderConfig
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import call, hire

CONFIG = ContextConfig(fill=0.8, default_window=8192, compaction_model=None, max_output_tokens=256)
WORDS = " ".join(f"word{n}" for n in range(400))  # 400 tokens by any count


def exchange(n: int, size: int = 1) -> list[Message]:
    """One step: the agent calls a tool, and the tool answers with `size` times 400 words."""
    tool_call = ToolCall(id=f"c{n}", name="read_file", arguments={"path": f"f{n}.txt"})
    result = ToolResult(call_id=f"c{n}", name="read_file", content=f"{n} " + WORDS * size)
    return [
        Message(role="assistant", text=f"step {n}", tool_calls=[tool_call]),
        Message(role="tool", tool_results=[result]),
    ]


def session(steps: int, size: int = 1) -> list[Message]:
    start = [Message.system("You are the CEO."), Message.user("Read every file.")]
    return start + [m for n in range(steps) for m in exchange(n, size)]


def check_well_formed(messages: Sequence[Message]) -> None:
    """What providers require: the system prompt first, and each tool message answering the
    calls of the assistant message just before it (no orphans)."""
    assert messages[0].role == "system"
    for before, message in itertools.pairwise(messages):
        if message.role == "tool":
            called = {c.id for c in before.tool_calls}
            assert (
                before.role == "assistant" and {r.call_id for r in message.tool_results} <= called
            )


class Writer:
    """A summarizer that keeps what it was asked to summarize; it can also be made to fail."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.texts: list[str] = []
        self.fail = fail

    async def __call__(self, text: str, max_tokens: int) -> str:
        self.texts.append(text)
        if self.fail:
            raise self.fail
        return f"summary {len(self.texts)}: files were read"


async def test_a_request_that_fits_goes_as_it_is() -> None:
    keeper = ContextKeeper("ceo", 8192, TokenCounter(), CONFIG)
    events: list[Event] = []
    messages = session(2)
    assert await keeper.fit(messages, [], Writer(), events.append) == messages
    assert events == []


async def test_a_long_session_is_compacted_and_stays_well_formed() -> None:
    keeper = ContextKeeper("ceo", 4096, TokenCounter(), CONFIG)
    writer, events = Writer(), []
    messages = session(1)
    for n in range(1, 60):  # the session grows a step at a time, as a run does
        messages += exchange(n)
        fitted = await keeper.fit(messages, [], writer, events.append)
        assert keeper.counter.count(fitted) <= keeper.limit
        check_well_formed(fitted)
        assert fitted[-2:] == messages[-2:]  # the latest exchange as it is
        assert "Read every file." in fitted[1].text  # the request, verbatim or quoted
    assert len(writer.texts) < 20  # a summary serves many steps before the next
    kinds = " ".join(e.how for e in events if isinstance(e, ContextCompacted))
    assert "shortened" in kinds and "summarized" in kinds
    assert all(e.tokens_after < e.tokens_before for e in events)


async def test_a_huge_tool_result_is_cut_to_head_and_tail() -> None:
    keeper = ContextKeeper("ceo", 4096, TokenCounter(), CONFIG)
    messages = session(1, size=30)  # 12,000 words in one result
    fitted = await keeper.fit(messages, [], Writer(), lambda e: None)
    content = fitted[-1].tool_results[0].content
    assert content.startswith("0 word0") and content.endswith("word399")
    assert "characters cut to fit the context window" in content
    assert keeper.counter.count(fitted) <= keeper.limit


async def test_without_a_summary_the_oldest_messages_are_left_out_with_a_note() -> None:
    keeper = ContextKeeper("ceo", 4096, TokenCounter(), CONFIG)
    writer, events = Writer(fail=BudgetExceeded("Budget exceeded: no money")), []
    fitted = await keeper.fit(session(40), [], writer, events.append)
    assert keeper.counter.count(fitted) <= keeper.limit
    check_well_formed(fitted)
    assert "earlier messages were left out: Budget exceeded" in fitted[1].text
    assert "no summary" in events[-1].how


def test_the_count_learns_from_what_the_provider_reports() -> None:
    counter = TokenCounter()
    messages = [Message.user("aaaa bbbb")]  # 2 pieces + 4 per message
    assert counter.count(messages) == 6
    counter.observe(counter.raw(messages), Usage(input_tokens=12))  # this model's tokens are finer
    assert counter.count(messages) >= 12  # never short of what it reported
    counter.observe(counter.raw(messages), Usage(input_tokens=3))  # a smaller report lowers nothing
    assert counter.count(messages) >= 12


def company(scripts: dict, windows: dict[str, int], **settings: object) -> Hashiru:
    config = Settings.load(ceo_model="scripted:ceo", enable_memory=False, **settings)
    provider = ScriptedProvider(scripts, ProviderConfig(context_tokens=windows))
    return Hashiru.from_settings(config, [provider])


class Inbox:
    """A model that records every request it gets and answers by `reply(n)`."""

    def __init__(self, reply: Callable[[int], ModelResponse]) -> None:
        self.requests: list[list[Message]] = []
        self.reply = reply

    def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        self.requests.append(list(messages))
        return self.reply(len(self.requests))


async def test_a_200_step_run_stays_in_the_window_and_answers(tmp_path) -> None:
    def step(n: int) -> ModelResponse:
        if n >= 200:
            return ModelResponse(text="All files read.")
        calls = [ToolCall(id=f"c{n}", name="read_file", arguments={"path": "big.txt"})]
        return ModelResponse(tool_calls=calls)

    ceo = Inbox(step)
    writer = Inbox(lambda n: ModelResponse(text=f"summary {n}"))
    hashiru = company(
        {"ceo": Script([ceo], repeat=True), "writer": Script([writer], repeat=True)},
        {"ceo": 8192},
        max_steps=200,
        compaction_model="scripted:writer",
        workspace=tmp_path,
    )
    (tmp_path / "big.txt").write_text(WORDS * 3)
    events: list[Event] = []
    result = await hashiru.run("Read big.txt again and again.", on_event=events.append)
    await hashiru.aclose()
    assert result.answer == "All files read." and result.steps == 200
    counter = TokenCounter()
    for request in ceo.requests:
        check_well_formed(request)
        assert counter.raw(request) <= 8192 * 0.8
    assert 0 < len(writer.requests) < 40  # compacted now and then, not every step
    assert any(isinstance(e, ContextCompacted) for e in events)
    assert result.context_peak_tokens["ceo"] <= 8192  # as reported (this script reports 0)
    summaries = [e for e in hashiru.ledger.entries(result.run_id) if e.kind == "settle"]
    assert sum(e.note == "context compaction" for e in summaries) == len(writer.requests)


async def test_an_employee_asked_100_long_questions_stays_in_its_window() -> None:
    asks = [{"tool_calls": [call("ask_agent", name="scribe", prompt=f"{n} {WORDS}")]}
            for n in range(100)]  # fmt: skip
    scribe = Inbox(lambda n: ModelResponse(text=f"noted {n}: " + WORDS[:400]))
    hashiru = company(
        {
            "ceo": Script([{"tool_calls": [hire("scribe")]}, *asks, {"text": "done"}]),
            "scribe": Script([scribe], repeat=True),
        },
        {"scribe": 4096},
        max_steps=110,
    )
    events: list[Event] = []
    result = await hashiru.run("Dictate.", on_event=events.append)
    await hashiru.aclose()
    questions = [r for r in scribe.requests if r[0].text == "s"]  # the rest write summaries
    assert result.answer == "done" and len(questions) == 100
    assert len(scribe.requests) - 100 <= 60  # a summary serves more than one question
    counter = TokenCounter()
    for request in scribe.requests:
        check_well_formed(request)
        assert counter.raw(request) <= 4096 * 0.8
    for n, request in enumerate(questions):
        assert request[-1].text.startswith(f"{n} word0")  # each question whole
    assert any(isinstance(e, ContextCompacted) and e.agent == "scribe" for e in events)
    history = hashiru.company.roster.get("scribe").history
    assert len(history) == 200  # the employee's own record keeps every exchange


async def test_a_run_whose_budget_cannot_pay_for_compaction_still_answers(
    tmp_path,
) -> None:
    def step(n: int) -> ModelResponse:
        if n >= 30:
            return ModelResponse(text="Done anyway.")
        calls = [ToolCall(id=f"c{n}", name="read_file", arguments={"path": "big.txt"})]
        return ModelResponse(tool_calls=calls)

    hashiru = company(
        {"ceo": Script([Inbox(step)], repeat=True)},
        {"ceo": 4096},
        max_steps=30,
        compaction_model="gemini:gemini-2.5-flash",  # a priced model: its hold is refused
        gemini_api_key="k",
        gemini_base_url="http://127.0.0.1:9",
        budget_usd=Decimal("0.000001"),
        workspace=tmp_path,
    )
    (tmp_path / "big.txt").write_text(WORDS * 2)
    events: list[Event] = []
    result = await hashiru.run("Read big.txt over and over.", on_event=events.append)
    await hashiru.aclose()
    assert result.answer == "Done anyway."
    compactions = [e for e in events if isinstance(e, ContextCompacted)]
    assert any("no summary" in e.how and "Budget exceeded" in e.how for e in compactions)


@pytest.mark.parametrize("window", [512, 2048])
async def test_a_small_window_still_leaves_room_for_the_reply(window: int) -> None:
    keeper = ContextKeeper("ceo", window, TokenCounter(), CONFIG)
    assert keeper.limit + min(CONFIG.max_output_tokens, window // 4) <= window
