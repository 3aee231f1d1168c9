"""The chat transcript is a pure fold of a run's events."""

from __future__ import annotations

from decimal import Decimal

from hashiru.agents.events import (
    Answer,
    ContextCompacted,
    EmployeeAnswer,
    HireReceipt,
    MemoriesRecalled,
    RunFailed,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    from_record,
    to_record,
)
from hashiru.agents.staffing import Candidate, Choice
from hashiru.conversations import Conversation
from hashiru.messages import Usage
from hashiru.transcript import RESULT_LIMIT, Transcript, redraw
from tests.conversations.conftest import turns

ASK = {"name": "poet", "prompt": "a haiku"}


def fold(*events) -> Transcript:
    transcript = Transcript()
    transcript.user("write a haiku")
    for event in events:
        transcript.apply(event)
    return transcript


def finished(result: object, name: str = "ask_agent") -> ToolCallFinished:
    return ToolCallFinished(
        call_id="c1", name=name, arguments=ASK, ok=True, result=result, seconds=1.234
    )


def failed(error: str, name: str = "ask_agent") -> ToolCallFinished:
    return ToolCallFinished(
        call_id="c1", name=name, arguments=ASK, ok=False, error=error, seconds=1
    )


def answer(text: str, cost_usd: str = "0") -> EmployeeAnswer:
    free = {"usd_free": Decimal(1), "memory_free_gib": Decimal(1)}
    return EmployeeAnswer(agent="poet", answer=text, seconds=1, cost_usd=Decimal(cost_usd), **free)


def test_streamed_text_grows_one_message_and_the_answer_is_not_repeated():
    t = fold(
        TextDelta(text="The sea "),
        TextDelta(text="is calm."),
        StepFinished(step=1, usage=Usage()),
        Answer(text="The sea is calm."),
    )
    assert t.messages[1:] == [{"role": "assistant", "content": "The sea is calm."}]


def test_an_answer_that_was_not_streamed_is_shown():
    t = fold(StepFinished(step=1, usage=Usage()), Answer(text="391"))
    assert t.messages[-1] == {"role": "assistant", "content": "391"}


def test_a_tool_call_is_a_pending_step_then_a_done_step_with_answer_and_cost():
    t = fold(ToolCallStarted(call_id="c1", name="ask_agent", arguments=ASK))
    step = t.messages[-1]
    assert step["metadata"]["status"] == "pending"
    assert step["metadata"]["title"] == "⚙ ask_agent → poet"
    assert '"prompt": "a haiku"' in step["content"]

    t.apply(finished(answer("Waves fold.", cost_usd="0.0021")))
    assert len(t.messages) == 2  # the same step, updated in place
    metadata = t.messages[-1]["metadata"]
    assert metadata["status"] == "done"
    assert metadata["title"] == "✓ ask_agent → poet"
    assert metadata["log"] == "$0.0021"
    assert metadata["duration"] == 1.23
    assert "**poet:** Waves fold." in t.messages[-1]["content"]


def test_text_after_a_tool_step_starts_a_new_message():
    t = fold(
        TextDelta(text="Let me ask."),
        StepFinished(step=1, usage=Usage()),
        ToolCallStarted(call_id="c1", name="ask_agent", arguments=ASK),
        finished(answer("Waves.")),
        TextDelta(text="Done."),
    )
    assert [m["content"] for m in t.messages if "metadata" not in m][1:] == ["Let me ask.", "Done."]


def test_a_failed_call_shows_its_error_and_no_cost():
    t = fold(
        ToolCallStarted(call_id="c1", name="ask_agent", arguments=ASK),
        failed("no employee named 'poet'"),
    )
    step = t.messages[-1]
    assert step["metadata"]["title"].startswith("✗")
    assert "log" not in step["metadata"]
    assert "**Error:** no employee named 'poet'" in step["content"]


def test_long_results_are_clipped():
    t = fold(
        ToolCallStarted(call_id="c1", name="run_python", arguments={"code": "x"}),
        finished("y" * (RESULT_LIMIT * 2), name="run_python"),
    )
    assert len(t.messages[-1]["content"]) < RESULT_LIMIT + 200


def test_recalled_memories_are_their_own_step():
    memory = {"id": "m1", "text": "The user likes haiku.", "kind": "preference", "similarity": 0.8}
    t = fold(MemoriesRecalled(memories=[memory]))
    assert t.messages[-1]["metadata"]["title"] == "◆ Recalled 1 memory"
    assert "The user likes haiku. *(preference, 0.80)*" in t.messages[-1]["content"]


def test_a_failed_run_is_a_readable_message():
    t = fold(TextDelta(text="Hm"), RunFailed(message="The expense budget is exhausted."))
    assert t.messages[-1] == {
        "role": "assistant",
        "content": "⚠ **The expense budget is exhausted.**",
    }


def test_attachments_are_named_under_the_users_message():
    t = Transcript()
    t.user("summarise", ["notes.txt"])
    assert t.messages == [{"role": "user", "content": "summarise\n\n*attached:* `notes.txt`"}]


def test_earlier_messages_are_kept_and_not_shared():
    earlier = [{"role": "user", "content": "hi"}]
    t = Transcript(earlier)
    t.apply(TextDelta(text="hello"))
    assert earlier == [{"role": "user", "content": "hi"}]
    assert len(t.messages) == 2


def test_a_long_conversation_redraws_its_last_turns_after_a_note():
    conversation = Conversation(id="abc123", turns=turns(5))
    chat = redraw(conversation, last=2).messages
    assert chat[0]["content"].startswith("*3 earlier turns not drawn here")
    assert "hashiru conversations show abc123" in chat[0]["content"]
    assert [m["content"] for m in chat[1:]] == ["question 4", "answer 4", "question 5", "answer 5"]
    assert redraw(conversation).messages[0]["content"] == "question 1"  # all, by default


def test_a_compaction_is_a_step_of_its_own():
    event = ContextCompacted(
        agent="ceo", tokens_before=7000, tokens_after=3000, window=8192, how="shortened 3 results"
    )
    chat = fold(TextDelta(text="Reading."), event, TextDelta(text="Done.")).messages
    step = chat[2]  # after the user message and the text
    assert (
        step["metadata"]["title"]
        == "⇲ ceo's context compacted: 7,000 → 3,000 tokens (window 8,192)"
    )
    assert step["content"] == "shortened 3 results"
    assert chat[3]["content"] == "Done."  # text after it starts a new message


def test_an_auto_hire_shows_its_choice_and_survives_a_save() -> None:
    candidates = [
        Candidate(
            ref="ollama:qwen3:8b",
            asks=42,
            good=40,
            bad=2,
            success_rate=0.952,
            drawn_success=0.93,
            usd_per_ask=Decimal(0),
            value_usd=0.0465,
        ),
        Candidate(
            ref="gemini:gemini-unpriced",
            asks=0,
            good=0,
            bad=0,
            success_rate=None,
            drawn_success=None,
            usd_per_ask=None,
            value_usd=None,
            passed_over="no price is known for it",
        ),
    ]
    choice = Choice(
        kind="math",
        ref="ollama:qwen3:8b",
        reason="the best value of 1 models at $0.05 a right answer (40 good of 42 judged)",
        answer_value_usd=Decimal("0.05"),
        candidates=candidates,
    )
    receipt = HireReceipt(
        hired="solver",
        model="ollama:qwen3:8b",
        local=True,
        hire_fee_usd=Decimal(0),
        memory_gib=Decimal("5.2"),
        usd_free=Decimal(5),
        memory_free_gib=Decimal(10),
        choice=choice,
    )
    event = finished(receipt, name="hire_agent")
    saved = from_record(to_record(event))
    assert saved.result == receipt, "a saved conversation redraws the choice"
    step = fold(saved).messages[-1]["content"]
    assert "auto:math hired solver on ollama:qwen3:8b" in step and "40 good of 42" in step
    assert "40 good/2" in step and "0.93" in step and "0.0465" in step
    assert "gemini:gemini-unpriced" in step and "passed over: no price" in step
