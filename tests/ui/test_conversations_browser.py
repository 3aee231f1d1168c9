"""Saved conversations in a real browser: the list, opening, reloads, restarts and logins.

The CEO is a scripted model that records what it was sent, so "the conversation goes on" is
checked where it matters: the earlier turns reached the model.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from hashiru import ui
from hashiru.messages import Message
from hashiru.providers.scripted import Script
from hashiru.ui.session import DRAWN_TURNS
from tests.conversations.conftest import bulk_seed, seed, turns
from tests.ui.conftest import Served, free_port
from tests.ui.test_browser import (
    VIEWPORT,
    WAIT_MS,
    cell,
    choose,
    column,
    load,
    open_app,
    send,
    shoot,
    show_tab,
    wait_for_answer,
)

Received = list[dict[str, Any]]


def recording(received: Received) -> Script:
    """A CEO that keeps what each call was sent (who said what, which tools) and answers
    "Answer N." for its Nth call."""

    def ceo(messages: Sequence[Message], tools: Sequence[Any]) -> dict:
        said = [(m.role, m.text) for m in messages if m.role in ("user", "assistant")]
        received.append({"said": said, "tools": {t.name for t in tools}})
        return {"text": f"Answer {len(received)}."}

    return Script([ceo], repeat=True)


def users(page: Page) -> list[str]:
    return page.locator("#chat [data-testid=user]").all_inner_texts()


def listed(page: Page) -> list[str]:
    """The conversation list's titles, once the table has rendered."""
    expect(page.locator("#conversations [role=grid]")).to_be_visible()
    return column(page, "#conversations")


def toast(page: Page, text: str) -> None:
    expect(page.locator(".toast-body").filter(has_text=text).first).to_be_visible()


def conversation_panel(page: Page) -> None:
    accordion = page.locator("#this-conversation")
    if not page.locator("#conversation-title").is_visible():
        accordion.get_by_text("This conversation").click()
    expect(page.locator("#conversation-title")).to_be_visible()


def test_a_conversation_survives_a_restart_and_a_reload(serve, browser, artifacts) -> None:
    received: Received = []
    port = free_port()
    first = serve({"ceo": recording(received)}, port=port, enable_memory=False)
    context = browser.new_context(viewport=VIEWPORT)  # one browser: its storage survives
    page = open_app(context, first)
    show_tab(page, "settings")
    tool_creation = page.locator("#modes").get_by_label("Tool creation")
    tool_creation.uncheck()
    expect(tool_creation).not_to_be_checked()
    send(page, "My name is Ada.")
    wait_for_answer(page, "Answer 1.")
    expect(cell(page, "#conversations", "My name is Ada.")).to_be_visible()  # at the top
    assert "create_tool" not in received[0]["tools"]
    saved = first.hashiru.conversations.page()
    assert [(c.title, c.source, c.turn_count) for c in saved.items] == [
        ("My name is Ada.", "app", 1)
    ]

    ui.shutdown(first.app)  # the app stops, and starts again on the same workspace
    second = serve({"ceo": recording(received)}, port=port, enable_memory=False)
    load(page, second)  # the page reloaded
    expect(page.locator("#chat [data-testid=bot]").last).to_contain_text("Answer 1.")
    assert users(page) == ["My name is Ada."], "the reload brings back the open conversation"
    assert listed(page) == ["My name is Ada."]
    show_tab(page, "settings")
    expect(page.locator("#modes").get_by_label("Tool creation")).not_to_be_checked()
    shoot(page, artifacts, "conversation-reloaded")

    page.locator("#new-chat").click()
    expect(page.locator("#chat [data-testid=user]")).to_have_count(0)
    cell(page, "#conversations", "My name is Ada.").click()
    expect(page.locator("#chat [data-testid=user]")).to_have_text(["My name is Ada."])
    send(page, "What is my name?")
    wait_for_answer(page, "Answer 2.")
    assert received[-1]["said"] == [
        ("user", "My name is Ada."),
        ("assistant", "Answer 1."),
        ("user", "What is my name?"),
    ], "the CEO got the earlier turns"
    assert "create_tool" not in received[-1]["tools"], "the conversation's settings came back"
    conversation = second.hashiru.conversations.get(saved.items[0].id)
    assert [t.task for t in conversation.turns] == ["My name is Ada.", "What is my name?"]
    assert listed(page) == ["My name is Ada."], "one conversation, continued"
    context.close()


def test_a_conversation_from_hashiru_run_opens_in_the_app_and_goes_on(
    serve, browser, tmp_path
) -> None:
    script = tmp_path / "ceo.json"
    script.write_text(json.dumps([{"text": "391"}]))
    env = {**os.environ, "HASHIRU_ENABLE_MEMORY": "0"}
    command = [sys.executable, "-m", "hashiru.cli", "run", "What is 17 * 23?"]
    ran = subprocess.run(
        [*command, "--ceo", f"scripted:{script}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    received: Received = []
    served = serve({"ceo": recording(received)}, enable_memory=False)
    page = open_app(browser, served)
    assert listed(page) == ["What is 17 * 23?"]

    cell(page, "#conversations", "What is 17 * 23?").click()
    expect(page.locator("#chat [data-testid=bot]").last).to_have_text("391")
    assert users(page) == ["What is 17 * 23?"]
    conversation_panel(page)
    expect(page.locator("#conversation-about")).to_contain_text("in the terminal")
    show_tab(page, "settings")  # the CEO it ran with came back; this tab's CEO takes over
    expect(page.locator("#ceo-model input")).to_have_value(f"scripted:{script}")
    choose(page, page.locator("#ceo-model input"), "scripted:ceo")
    send(page, "And plus one?")
    wait_for_answer(page, "Answer 1.")
    assert received[-1]["said"] == [
        ("user", "What is 17 * 23?"),
        ("assistant", "391"),
        ("user", "And plus one?"),
    ]
    store = served.hashiru.conversations
    assert [t.task for t in store.latest().turns] == ["What is 17 * 23?", "And plus one?"]


def test_a_long_conversation_opens_and_the_list_shows_one_page(serve, browser, artifacts) -> None:
    served = serve({"ceo": Script([{"text": "hi"}], repeat=True)}, enable_memory=False)
    store = served.hashiru.conversations
    bulk_seed(store, 10_000)
    long = store.new(source="cli")
    long.title = "the long one"
    store.save_turns(long, turns(1000))
    page = open_app(browser, served)

    grid = page.locator("#conversations [role=grid]")
    expect(grid).to_have_attribute("aria-rowcount", "51")  # a header and the first 50
    expect(page.locator("#conversations-count")).to_have_text("50 of 10,001")
    started = time.monotonic()
    cell(page, "#conversations", "the long one").click()
    expect(page.locator("#chat [data-testid=bot]").last).to_have_text("answer 1000", timeout=60_000)
    print(f"opened 1,000 turns in {time.monotonic() - started:.1f} s")
    expect(page.locator("#chat [data-testid=user]")).to_have_count(DRAWN_TURNS)
    expect(page.locator("#chat")).to_contain_text(f"{1000 - DRAWN_TURNS} earlier turns not drawn")
    shoot(page, artifacts, "conversation-long")

    page.locator("#more-conversations").click()
    expect(grid).to_have_attribute("aria-rowcount", "101")
    expect(page.locator("#conversations-count")).to_have_text("100 of 10,001")


def login(browser: Browser, served: Served, user: str, password: str) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(served.url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#chat")).to_be_visible()  # logged in: the app, not the form
    load(page, served)
    return page


def test_each_login_sees_and_opens_only_its_own_conversations(serve, browser) -> None:
    received: Received = []
    logins = {"ada": "lovelace", "bob": "builder"}
    served = serve(
        {"ceo": recording(received)},
        auth=[f"{user}:{password}" for user, password in logins.items()],
        enable_memory=False,
    )
    seed(served.hashiru.conversations, 1)  # the terminal's: nobody's login
    pages = {user: login(browser, served, user, password) for user, password in logins.items()}
    for user, page in pages.items():
        assert listed(page) == []
        send(page, f"I am {user}.")
        wait_for_answer(page, "Answer")
    for user, page in pages.items():
        expect(cell(page, "#conversations", f"I am {user}.")).to_be_visible()
        load(page, served)  # reloaded: the same, and still only its own
        assert listed(page) == [f"I am {user}."]
        assert users(page) == [f"I am {user}."]
    owners = {c.title: c.owner for c in served.hashiru.conversations.page().items}
    assert owners == {"I am ada.": "ada", "I am bob.": "bob", "conversation 0": ""}


def test_search_rename_and_delete(serve, browser, artifacts) -> None:
    served = serve({"ceo": Script([{"text": "hi"}], repeat=True)}, enable_memory=False)
    store = served.hashiru.conversations
    made = seed(store, 3)
    page = open_app(browser, served)
    assert listed(page) == ["conversation 2", "conversation 1", "conversation 0"]

    search = page.locator("#conversation-search input")
    search.fill("topic1")  # a word of its turns
    expect(cell(page, "#conversations", "conversation 0")).to_have_count(0)
    assert listed(page) == ["conversation 1"]
    search.fill("no such words")
    expect(page.locator("#conversations-count")).to_have_text("No conversation matches.")
    search.fill("")
    expect(cell(page, "#conversations", "conversation 0")).to_be_visible()

    cell(page, "#conversations", "conversation 2").click()
    expect(page.locator("#chat [data-testid=user]")).to_have_text(["question 1 topic2"])
    conversation_panel(page)
    title = page.locator("#conversation-title input")
    expect(title).to_have_value("conversation 2")
    title.fill("The sea, renamed")
    page.locator("#rename").click()
    expect(cell(page, "#conversations", "The sea, renamed")).to_be_visible()
    assert store.get(made[2].id).title == "The sea, renamed"
    shoot(page, artifacts, "conversation-renamed")

    page.locator("#delete-conversation").click()
    expect(cell(page, "#conversations", "The sea, renamed")).to_have_count(0)
    expect(page.locator("#chat [data-testid=user]")).to_have_count(0)  # a new one is open
    assert [c.id for c in store.page().items] == [made[1].id, made[0].id]


def damage(path: Path, conversation_id: str) -> None:
    """Break a saved turn, as a crash of a foreign tool or a bad disk might."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE turns SET body = '{\"task\": ' WHERE conversation_id = ?", (conversation_id,)
        )


def test_bad_input_is_a_warning_and_changes_nothing(serve, browser, artifacts) -> None:
    received: Received = []
    served = serve({"ceo": recording(received)}, enable_memory=False)
    store = served.hashiru.conversations
    made = seed(store, 3)
    page = open_app(browser, served)
    cell(page, "#conversations", "conversation 1").click()
    expect(page.locator("#chat [data-testid=user]")).to_have_text(["question 1 topic1"])
    conversation_panel(page)
    title = page.locator("#conversation-title input")

    for bad, says in (("x" * 100_000, "at most 200 characters"), ("ring\x07bell", "U+0007")):
        title.fill(bad)
        page.locator("#rename").click()
        toast(page, says)
        expect(title).to_have_value("conversation 1")
    assert store.get(made[1].id).title == "conversation 1"

    store.delete(made[0].id)  # elsewhere, while the list still shows it
    cell(page, "#conversations", "conversation 0").click()
    toast(page, "No conversation")
    damage(store.path, made[2].id)
    cell(page, "#conversations", "conversation 2").click()
    toast(page, "is damaged")
    shoot(page, artifacts, "conversation-damaged")
    assert users(page) == ["question 1 topic1"], "the open conversation stayed open"

    send(page, "Still there?")  # the app goes on, in the conversation that was open
    wait_for_answer(page, "Answer 1.")
    assert received[-1]["said"][-3:] == [
        ("user", "question 1 topic1"),
        ("assistant", "answer 1"),
        ("user", "Still there?"),
    ]
    assert "conversation 2" in listed(page), "a damaged conversation is listed, not hidden"
