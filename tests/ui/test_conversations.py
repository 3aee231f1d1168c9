"""Conversations the app and its API save: marked by source and owner, and continued elsewhere."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from gradio_client import Client

from hashiru.conversations import ConversationSummary
from hashiru.errors import ConversationError
from hashiru.providers.scripted import Script
from hashiru.ui import panels
from hashiru.ui.session import Sessions
from hashiru.ui.turn import run_turn
from hashiru.ui.wiring.conversations import reopen
from tests.conversations.conftest import seed
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import FakeTurn

FLASH = "gemini-2.5-flash"


def said(body: dict) -> list[tuple[str, str]]:
    """Who said what in a Gemini request, as the model received it."""
    return [
        (content["role"], "".join(part.get("text", "") for part in content["parts"]))
        for content in body["contents"]
    ]


def test_a_chat_is_saved_as_an_api_conversation_that_hashiru_run_continues(serve):
    served = serve({"ceo": Script([{"text": "391"}, {"text": "392"}])}, enable_memory=False)
    client = Client(served.url, verbose=False)
    first, history = client.predict(
        message={"text": "What is 17 * 23?", "files": []}, api_name="/chat"
    )
    second, history = client.predict(
        {"text": "And plus 1?", "files": []}, history, api_name="/chat"
    )
    assert (first, second) == ("391", "392"), "the endpoints answer as before"

    store = served.hashiru.conversations
    listed = store.page().items
    assert [(c.source, c.owner, c.turn_count) for c in listed] == [("api", "", 2), ("api", "", 1)]
    continued = store.get(listed[0].id)
    assert [(t.task, t.answer, bool(t.run_id)) for t in continued.turns] == [
        ("What is 17 * 23?", "391", False),  # the client's history, kept as an earlier turn
        ("And plus 1?", "392", True),
    ]

    with FakeGemini(models=(FLASH,)) as gemini:
        gemini.plan(FLASH, FakeTurn(text="784"))
        env = {
            **os.environ,
            "GEMINI_API_KEY": "k",
            "GOOGLE_GEMINI_BASE_URL": gemini.url,
            "HASHIRU_ENABLE_MEMORY": "0",
        }
        command = [sys.executable, "-m", "hashiru.cli", "run", "And times two?"]
        ran = subprocess.run(
            [*command, "--continue", continued.id, "--ceo", f"gemini:{FLASH}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        asked = [r.body for r in gemini.requests if r.method == "POST"]
    assert said(asked[-1])[-5:] == [
        ("user", "What is 17 * 23?"),
        ("model", "391"),
        ("user", "And plus 1?"),
        ("model", "392"),
        ("user", "And times two?"),
    ], "the CEO got the conversation's earlier turns"
    assert [t.answer for t in store.get(continued.id).turns] == ["391", "392", "784"]


def test_a_chat_with_a_login_belongs_to_that_login(serve):
    served = serve(
        {"ceo": Script([{"text": "hi"}], repeat=True)},
        auth=["ada:lovelace", "bob:builder"],
        enable_memory=False,
    )
    for user, password in (("ada", "lovelace"), ("bob", "builder")):
        client = Client(served.url, auth=(user, password), verbose=False)
        client.predict(message={"text": f"I am {user}", "files": []}, api_name="/chat")
    owners = {c.title: (c.source, c.owner) for c in served.hashiru.conversations.page().items}
    assert owners == {"I am ada": ("api", "ada"), "I am bob": ("api", "bob")}


async def test_a_session_opens_only_its_logins_conversations(make_hashiru):
    workspace = make_hashiru({"ceo": Script([{"text": "hi"}], repeat=True)}, enable_memory=False)
    sessions = Sessions(workspace)
    ada, bob, anyone = sessions.get("a", "ada"), sessions.get("b", "bob"), sessions.get("c")
    async for _ in run_turn(bob, "bob's secret"):
        pass
    assert bob.conversation.saved and bob.conversation.owner == "bob"

    before = ada.conversation
    with pytest.raises(ConversationError, match="No conversation"):
        reopen(ada, bob.conversation.id)
    assert ada.conversation is before and ada.chat == []
    reopen(anyone, bob.conversation.id)  # without a login, every conversation is listed
    assert anyone.chat == bob.chat


async def test_opening_brings_back_the_chat_and_the_settings(make_hashiru):
    workspace = make_hashiru({"ceo": Script([{"text": "hi"}], repeat=True)}, enable_memory=False)
    sessions = Sessions(workspace)
    first = sessions.get("one")
    first.configure(max_steps=3, enable_tool_creation=False)
    async for _ in run_turn(first, "remember this"):
        pass
    other = sessions.get("two")
    reopen(other, first.conversation.id[:6])  # a prefix is enough
    assert other.policy.max_steps == 3 and not other.policy.enable_tool_creation
    assert other.chat == first.chat
    assert [m.text for m in other.conversation.messages if m.role != "system"] == [
        "remember this",
        "hi",
    ]
    other.reset()  # a new conversation keeps the session's settings
    assert not other.conversation.saved and other.policy.max_steps == 3


async def test_a_stopped_turn_leaves_the_conversation_as_it_was(make_hashiru):
    ceo = Script([{"text": "first"}, {"text": "late", "delay": 60}])
    session = Sessions(make_hashiru({"ceo": ceo}, enable_memory=False)).get("s")
    async for _ in run_turn(session, "one"):
        pass

    async def turn() -> None:
        async for _ in run_turn(session, "two"):
            pass

    handler = asyncio.create_task(turn())
    await asyncio.sleep(1)  # the CEO is in its slow call
    handler.cancel()  # as the stop button does
    await asyncio.gather(handler, return_exceptions=True)
    stored = session.hashiru.conversations.get(session.conversation.id)
    assert [t.task for t in stored.turns] == ["one"]


def test_the_list_rows_say_title_when_and_spend():
    now = datetime.now(UTC)
    items = [
        ConversationSummary(
            id="a1", title="today", source="app", created_at=now, updated_at=now,
            spent_usd=Decimal("0.03097904"),
        ),
        ConversationSummary(
            id="b2", title="older", source="cli", created_at=now,
            updated_at=now - timedelta(days=40),
        ),
    ]  # fmt: skip
    rows = panels.conversation_rows(items)
    assert rows[0][0] == "today" and rows[0][2] == "0.0310"
    assert len(rows[0][1]) == 5 and ":" in rows[0][1]  # a time today
    assert rows[1][1] == (now - timedelta(days=40)).astimezone().strftime("%Y-%m-%d")
    assert rows[1][2] == ""


def test_the_count_under_the_list(make_hashiru):
    workspace = make_hashiru({"ceo": Script([{"text": "hi"}])}, enable_memory=False)
    seed(workspace.conversations, 120)
    page = workspace.conversation_page(limit=50)
    assert panels.conversations_count(page, 50, "") == "*50 of 120*"
    empty = workspace.conversation_page(query="nothing like it")
    assert panels.conversations_count(empty, 0, "nothing like it") == "*No conversation matches.*"
