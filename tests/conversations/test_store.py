"""The conversation store on its own: turns in and out, the list, search, rename, delete, damage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hashiru.conversations import ConversationStore, Turn, title_from
from hashiru.errors import ConversationError
from hashiru.settings import RunPolicy
from tests.conversations.conftest import bulk_seed, seed, turns


def test_a_new_conversation_is_stored_with_its_first_turn(store: ConversationStore) -> None:
    conversation = store.new(source="app", owner="ann", policy=RunPolicy(max_steps=3))
    assert store.page().total == 0  # nothing until a turn ends
    store.save_turns(conversation, turns(2))
    assert conversation.saved and [t.number for t in conversation.turns] == [1, 2]
    opened = store.get(conversation.id)
    assert opened.model_dump() == conversation.model_dump()
    assert opened.title == "question 1" and opened.source == "app" and opened.owner == "ann"
    assert opened.policy == RunPolicy(max_steps=3)
    assert [m.text for m in opened.messages][1:] == [
        "question 1",
        "answer 1",
        "question 2",
        "answer 2",
    ]


def test_turns_after_others_are_numbered_after_them(store: ConversationStore) -> None:
    """Two holders of one conversation (the app and `hashiru run`): neither loses a turn."""
    first = store.new()
    store.save_turns(first, turns(1))
    second = store.get(first.id)
    store.save_turns(first, turns(1, start=2))
    store.save_turns(second, turns(1, start=3))
    assert [t.task for t in store.get(first.id).turns] == ["question 1", "question 2", "question 3"]
    assert [t.number for t in store.get(first.id).turns] == [1, 2, 3]


def test_a_conversation_deleted_meanwhile_refuses_the_turn(store: ConversationStore) -> None:
    conversation = store.new()
    store.save_turns(conversation, turns(1))
    store.delete(conversation.id)
    with pytest.raises(ConversationError, match="deleted while this turn ran"):
        store.save_turns(conversation, turns(1, start=2))
    assert store.page().total == 0


def test_the_list_is_newest_first_and_paged(store: ConversationStore) -> None:
    made = seed(store, 7)
    page = store.page(limit=3)
    assert [c.id for c in page.items] == [c.id for c in reversed(made)][:3]
    assert page.total == 7 and page.more
    last = store.page(offset=6, limit=3)
    assert [c.id for c in last.items] == [made[0].id] and not last.more
    store.save_turns(made[0], turns(1, start=2))  # a new turn moves it to the top
    assert store.page(limit=1).items[0].id == made[0].id
    assert store.latest().id == made[0].id


def test_owners_see_their_own(store: ConversationStore) -> None:
    for owner in ("ann", "bob", "ann"):
        store.save_turns(store.new(source="app", owner=owner), turns(1))
    assert store.page(owner="ann").total == 2 and store.page(owner="bob").total == 1
    assert store.page().total == 3
    bobs = store.page(owner="bob").items[0].id
    with pytest.raises(ConversationError, match="No conversation"):
        store.get(bobs, owner="ann")
    with pytest.raises(ConversationError):
        store.delete(bobs, owner="ann")
    with pytest.raises(ConversationError):
        store.rename(bobs, "mine now", owner="ann")
    assert store.get(bobs).title == "question 1"


def test_search_finds_titles_and_words_of_turns(store: ConversationStore) -> None:
    made = seed(store, 3)
    store.save_turns(made[1], [Turn(run_id="r", task="How do Python decorators work?")])
    assert [c.id for c in store.page(query="pyth").items] == [made[1].id]  # a word's start
    assert [c.id for c in store.page(query="conversation 2").items] == [made[2].id]  # title
    assert store.page(query="topic0").items[0].id == made[0].id
    assert store.page(query="nothing like this").total == 0
    for hostile in ['"', "*", "a AND (", "NEAR(", "%", "_", "\\", "'; DROP TABLE turns; --"]:
        store.page(query=hostile)  # the search syntax is never the user's to break
    assert store.page().total == 3


def test_rename_checks_the_title_and_changes_nothing_when_bad(store: ConversationStore) -> None:
    conversation = seed(store, 1)[0]
    assert store.rename(conversation.id, "  Trip plans ").title == "Trip plans"
    with pytest.raises(ConversationError, match="at most 200 characters; this one has 102,400"):
        store.rename(conversation.id, "x" * 102_400)
    with pytest.raises(ConversationError, match="U\\+0007"):
        store.rename(conversation.id, "bell\a")
    with pytest.raises(ConversationError, match="one line"):
        store.rename(conversation.id, "two\nlines")
    with pytest.raises(ConversationError, match="empty"):
        store.rename(conversation.id, "   ")
    assert store.get(conversation.id).title == "Trip plans"


def test_a_title_made_from_a_first_message_is_one_short_line() -> None:
    assert title_from("  what\tis\n\x07 this?  ") == "what is this?"
    made = title_from("word " * 100)
    assert len(made) == 80 and made.endswith("…")
    assert title_from("\x00\x01") == "Untitled"


def test_unknown_and_ambiguous_ids_say_what_to_do(store: ConversationStore) -> None:
    with pytest.raises(ConversationError, match=r"No conversation 'abc'.*hashiru conversations"):
        store.get("abc")
    with pytest.raises(ConversationError, match="not a conversation id"):
        store.get("../../etc/passwd")
    with pytest.raises(ConversationError, match="not a conversation id"):
        store.get("x" * 100_000)
    a, b = store.new(), store.new()
    a.id, b.id = "abc111", "abc222"
    store.save_turns(a, turns(1))
    store.save_turns(b, turns(1))
    with pytest.raises(ConversationError, match="more than one"):
        store.get("abc")
    assert store.get("abc2").id == "abc222"


def test_delete_forgets_the_turns_and_their_words(store: ConversationStore) -> None:
    keep, gone = seed(store, 2)
    store.delete(gone.id)
    assert [c.id for c in store.page().items] == [keep.id]
    assert store.page(query="topic1").total == 0
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT count(*) FROM turns").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM turn_text").fetchone()[0] == 1


def test_a_damaged_turn_is_named_and_the_rest_goes_on(store: ConversationStore) -> None:
    damaged, fine = seed(store, 2, turns_each=3)
    db = sqlite3.connect(store.path)
    db.execute(
        "UPDATE turns SET body = '{not json' WHERE conversation_id = ? AND number = 2",
        (damaged.id,),
    )
    db.commit()
    with pytest.raises(ConversationError, match=f"{damaged.id} is damaged.*turn 2"):
        store.get(damaged.id)
    assert len(store.get(fine.id).turns) == 3
    assert store.page().total == 2


def test_a_damaged_row_is_listed_as_damaged_not_dropped(store: ConversationStore) -> None:
    damaged, fine = seed(store, 2)
    db = sqlite3.connect(store.path)
    db.execute(
        "UPDATE conversations SET source = 'mars', created_at = 'yesterday' WHERE id = ?",
        (damaged.id,),
    )
    db.execute("UPDATE conversations SET policy = '{\"max_steps\": -1}' WHERE id = ?", (fine.id,))
    db.commit()
    titles = {c.id: c.title for c in store.page().items}
    assert titles[damaged.id].startswith("⚠ damaged") and titles[fine.id] == "conversation 1"
    with pytest.raises(ConversationError, match="damaged"):
        store.get(damaged.id)
    assert store.get(fine.id).policy is None  # a policy no longer valid: the workspace's


def test_ten_thousand_are_paged_and_one_opens_alone(tmp_path: Path) -> None:
    """The list reads one page; opening reads that conversation's rows and no other's (every
    other conversation's turns are damaged here, and it still opens)."""
    store = ConversationStore(tmp_path / "c.sqlite")
    big = store.new(source="cli")
    store.save_turns(big, turns(1000))
    bulk_seed(store, 10_000)
    db = sqlite3.connect(store.path)
    db.execute("UPDATE turns SET body = 'damaged' WHERE conversation_id != ?", (big.id,))
    db.commit()
    page = store.page()
    assert page.total == 10_001 and len(page.items) == 50
    opened = store.get(big.id)
    assert len(opened.turns) == 1000 and opened.turns[-1].answer == "answer 1000"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ConversationStore(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    with pytest.raises(ConversationError, match=r"newer than this HASHIRU.*upgrade"):
        ConversationStore(path)
