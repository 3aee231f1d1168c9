"""Runs as turns of a saved conversation: what is kept, what the CEO is sent next, and money."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

import pytest

from hashiru.agents.events import Event
from hashiru.errors import ConfigError
from hashiru.messages import Message, ModelResponse, ToolSpec
from hashiru.providers.scripted import Script
from hashiru.transcript import Transcript, markdown, redraw
from tests.agents.conftest import MakeCompany, hire


class Listener:
    """A CEO that answers in order and keeps every prompt it was sent."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[list[Message]] = []

    def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        self.prompts.append(list(messages))
        return ModelResponse(text=self.answers[len(self.prompts) - 1])

    def said(self, n: int) -> list[tuple[str, str]]:
        return [(m.role, m.text) for m in self.prompts[n] if m.role != "system"]


async def test_the_next_turn_reaches_the_ceo_with_the_earlier_ones(
    make_hashiru: MakeCompany,
) -> None:
    ceo = Listener("Paris.", "About 2.1 million.")
    hashiru = make_hashiru({"ceo": Script([ceo, ceo])}, enable_memory=False)
    conversation = hashiru.conversations.new(source="cli")
    first = await hashiru.run("Capital of France?", conversation=conversation)
    assert first.conversation_id == conversation.id
    await hashiru.run("Its population?", conversation=conversation.id)  # by id, from the file
    assert ceo.said(1) == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "Its population?"),
    ]
    assert ceo.prompts[1][0].role == "system"
    saved = hashiru.conversations.get(conversation.id)
    assert saved.title == "Capital of France?" and len(saved.turns) == 2
    assert saved.run_ids == [first.run_id, saved.turns[1].run_id]
    assert saved.policy == hashiru.policy


async def test_the_saved_chat_redraws_as_it_was_shown(make_hashiru: MakeCompany) -> None:
    ceo = Script(
        [
            {"text": "Let me ask. ", "tool_calls": [hire("poet")], "token_delay": 0.001},
            {"tool_calls": [{"name": "ask_agent", "arguments": {"name": "poet", "prompt": "go"}}]},
            {"tool_calls": [{"name": "no_such_tool", "arguments": {}}]},
            {"text": "Here is the poem.", "token_delay": 0.001},
        ]
    )
    hashiru = make_hashiru(
        {"ceo": ceo, "poet": Script([{"text": "Roses.", "delay": 0.05}])},
        enable_memory=False,
        local_usd_per_hour=1,  # so the local poet's seconds cost money
    )
    live = Transcript()
    live.user("Write a poem", ["notes.txt"])
    conversation = hashiru.conversations.new(source="app")
    await hashiru.run(
        "Write a poem", on_event=live.apply, conversation=conversation, attachments=["notes.txt"]
    )
    saved = hashiru.conversations.get(conversation.id)
    assert redraw(saved).messages == live.messages
    assert "notes.txt" in saved.messages[1].text  # the CEO was told of the attachment
    assert saved.turns[0].task == "Write a poem"  # and the person's words kept as typed
    deltas = [e for e in saved.turns[0].events if e["kind"] == "text_delta"]
    assert [e["text"] for e in deltas] == ["Let me ask. ", "Here is the poem."]  # joined
    listed = (await asyncio.to_thread(hashiru.conversation_page)).items[0]
    spent = hashiru.ledger.state(saved.run_ids[0]).run_spent
    assert spent > 0 and listed.spent_usd == spent == hashiru.conversation_spent(saved)


async def test_a_failed_turn_shows_its_error_and_leaves_the_context(
    make_hashiru: MakeCompany,
) -> None:
    ceo = Listener("first", "third")
    script = Script([ceo, {"tool_calls": [hire("x", "nope:model")]}, ceo])
    hashiru = make_hashiru({"ceo": script}, enable_memory=False, max_steps=1)
    conversation = hashiru.conversations.new()
    await hashiru.run("one", conversation=conversation)
    with pytest.raises(Exception) as failed:
        await hashiru.run("two", conversation=conversation)
    await hashiru.run("three", conversation=conversation)
    saved = hashiru.conversations.get(conversation.id)
    assert [t.ok for t in saved.turns] == [True, False, True]
    assert saved.turns[1].run_id == failed.value.run_id and saved.turns[1].messages == []
    assert saved.turns[1].events[-1]["kind"] == "error"
    assert ceo.said(1) == [("user", "one"), ("assistant", "first"), ("user", "three")]
    assert "⚠" in redraw(saved).messages[3]["content"]


async def test_a_stopped_turn_saves_nothing(make_hashiru: MakeCompany) -> None:
    hashiru = make_hashiru(
        {"ceo": Script([{"text": "one"}, {"text": "late", "delay": 30}])}, enable_memory=False
    )
    conversation = hashiru.conversations.new()
    await hashiru.run("one", conversation=conversation)
    turn = asyncio.create_task(hashiru.run("two", conversation=conversation))
    await asyncio.sleep(0.3)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert [t.task for t in hashiru.conversations.get(conversation.id).turns] == ["one"]
    assert len(conversation.turns) == 1


async def test_a_first_turn_stopped_leaves_no_conversation(make_hashiru: MakeCompany) -> None:
    hashiru = make_hashiru({"ceo": Script([{"text": "late", "delay": 30}])}, enable_memory=False)
    turn = asyncio.create_task(hashiru.run("one", conversation=hashiru.conversations.new()))
    await asyncio.sleep(0.3)
    turn.cancel()
    await asyncio.gather(turn, return_exceptions=True)
    assert hashiru.conversations.page().total == 0


async def test_a_history_given_with_a_new_conversation_is_kept(make_hashiru: MakeCompany) -> None:
    ceo = Listener("Blue.", "Green.")
    hashiru = make_hashiru({"ceo": Script([ceo, ceo])}, enable_memory=False)
    history = [Message.system("s"), Message.user("Sky?"), Message.assistant("Blue.")]
    conversation = hashiru.conversations.new(source="api")
    await hashiru.run("Grass?", history=history, conversation=conversation)
    await hashiru.run("And?", conversation=conversation.id)
    saved = hashiru.conversations.get(conversation.id)
    assert [(t.task, t.answer, t.run_id != "") for t in saved.turns] == [
        ("Sky?", "Blue.", False),
        ("Grass?", "Blue.", True),
        ("And?", "Green.", True),
    ]
    assert ceo.said(1)[:3] == [("user", "Sky?"), ("assistant", "Blue."), ("user", "Grass?")]
    assert [m["content"] for m in redraw(saved).messages][:2] == ["Sky?", "Blue."]
    with pytest.raises(ConfigError, match="not both"):
        await hashiru.run("x", history=history, conversation=conversation)


async def test_a_conversation_keeps_its_policy_unless_told(make_hashiru: MakeCompany) -> None:
    hashiru = make_hashiru({"ceo": Script([{"text": "a"}, {"text": "b"}, {"text": "c"}])})
    careful = hashiru.policy.updated(max_steps=2, enable_memory=False)
    conversation = hashiru.conversations.new(policy=careful)
    events: list[Event] = []
    await hashiru.run("one", conversation=conversation)
    await hashiru.run("two", conversation=conversation.id, on_event=events.append)
    assert hashiru.conversations.get(conversation.id).policy == careful
    bolder = careful.updated(max_steps=5)
    await hashiru.run("three", conversation=conversation.id, policy=bolder)
    assert hashiru.conversations.get(conversation.id).policy == bolder


async def test_an_unknown_conversation_spends_nothing(make_hashiru: MakeCompany) -> None:
    hashiru = make_hashiru({"ceo": Script([{"text": "a"}])})
    with pytest.raises(Exception, match="No conversation"):
        await hashiru.run("one", conversation="abcdef")
    assert hashiru.ledger.entries() == []


async def test_the_markdown_export_reads_as_the_chat(make_hashiru: MakeCompany) -> None:
    ceo = Script(
        [
            {"tool_calls": [hire("poet")]},
            {"tool_calls": [{"name": "ask_agent", "arguments": {"name": "poet", "prompt": "go"}}]},
            {"text": "Here it is."},
        ]
    )
    hashiru = make_hashiru(
        {"ceo": ceo, "poet": Script([{"text": "Roses are red."}])}, enable_memory=False
    )
    conversation = hashiru.conversations.new(source="cli")
    await hashiru.run("Write a poem", conversation=conversation)
    text = markdown(hashiru.conversations.get(conversation.id), Decimal("0.0125"))
    assert text.startswith(f"# Write a poem\n\n`{conversation.id}` · started ")
    assert "in the terminal · 1 turn · $0.0125 spent" in text
    _, ceo_said = text.split("## You\n\nWrite a poem\n\n## HASHIRU\n\n")
    assert "> **✓ hire_agent → poet**" in ceo_said
    assert "> **✓ ask_agent → poet**" in ceo_said and "> **poet:** Roses are red." in ceo_said
    assert ceo_said.rstrip().endswith("Here it is.")
