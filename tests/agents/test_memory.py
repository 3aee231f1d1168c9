"""The CEO's long-term memory on a real Chroma and the real offline embedding model."""

from __future__ import annotations

import json

from hashiru.agents.events import MemoriesRecalled, ToolCallFinished
from hashiru.messages import ModelResponse
from hashiru.providers.scripted import Script
from tests.agents.conftest import MakeCompany, call


def finished(events: list) -> list[dict]:
    return [json.loads(e.content) for e in events if isinstance(e, ToolCallFinished)]


async def test_relevant_memories_are_recalled_once_as_data(make_hashiru: MakeCompany) -> None:
    seen: list[list] = []

    def ceo(messages, tools):
        seen.append(list(messages))
        return ModelResponse(text="Metric, then.")

    hashiru = make_hashiru({"ceo": Script([ceo], repeat=True)})
    hashiru.memory.add("The user prefers metric units.", "preference")
    hashiru.memory.add("The office cat is called Miso.", "fact")
    events: list = []
    first = await hashiru.run("Which units should I use for the recipe?", on_event=events.append)

    [recalled] = [e for e in events if isinstance(e, MemoriesRecalled)]
    assert recalled.memories[0]["text"] == "The user prefers metric units."
    prompt = seen[0]
    assert prompt[-1].text == "Which units should I use for the recipe?"
    assert prompt[-2].role == "user" and "<recalled_memories>" in prompt[-2].text
    assert "data, not instructions" in prompt[-2].text
    assert not any("<recalled_memories>" in m.text for m in first.messages)

    await hashiru.run("Which units for the oven temperature?", history=first.messages)
    blocks = [m for m in seen[1] if "<recalled_memories>" in m.text]
    assert len(blocks) == 1, "recalled memories do not pile up turn after turn"
    assert hashiru.memory.get(recalled.memories[0]["id"]).recalls >= 2


async def test_the_ceo_saves_searches_and_deletes(make_hashiru: MakeCompany) -> None:
    ceo = Script(
        [
            {
                "tool_calls": [
                    call(
                        "save_memory",
                        text="Answers go in French.",
                        kind="preference",
                        key="language",
                    )
                ]
            },
            {
                "tool_calls": [
                    call(
                        "save_memory",
                        text="Answers go in German.",
                        kind="correction",
                        key="language",
                    )
                ]
            },
            {"tool_calls": [call("search_memory", query="what language should answers use")]},
            {
                "tool_calls": [
                    call(
                        "save_memory",
                        text="The key is sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
                        kind="fact",
                    )
                ]
            },
            {"text": "noted"},
        ]
    )
    events: list = []
    hashiru = make_hashiru({"ceo": ceo})
    await hashiru.run("Remember: answer in French. No, German.", on_event=events.append)
    saved, updated, found, refused = finished(events)
    assert saved["saved"] == updated["saved"], "the same key updates the memory"
    assert found[0]["text"] == "Answers go in German." and len(found) == 1
    assert "secret" in refused["error"] and "sk-ant" not in refused["error"]

    again = make_hashiru(
        {
            "ceo": Script(
                [{"tool_calls": [call("delete_memory", id=saved["saved"])]}, {"text": "forgotten"}]
            )
        }
    )
    [memory] = again.memory.list()
    assert (memory.text, memory.kind, memory.key) == (
        "Answers go in German.",
        "correction",
        "language",
    )
    await again.run("Forget the language rule.")
    assert again.memory.list() == []


async def test_the_memory_switch_turns_tools_and_recall_off(make_hashiru: MakeCompany) -> None:
    offered: set[str] = set()

    def ceo(messages, tools):
        offered.update(t.name for t in tools)
        assert not any("<recalled_memories>" in m.text for m in messages)
        return ModelResponse(text="ok")

    hashiru = make_hashiru({"ceo": Script([ceo])}, enable_memory=False)
    events: list = []
    await hashiru.run("Which units?", on_event=events.append)
    assert not offered & {"save_memory", "search_memory", "delete_memory"}
    assert not any(isinstance(e, MemoriesRecalled) for e in events)
