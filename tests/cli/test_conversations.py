"""`hashiru run --continue` and `hashiru conversations`: every run is a saved conversation, the
CEO hears its earlier turns, a killed turn leaves nothing behind, and the list, the transcript,
renames, deletes and exports work on a real store, with bad input refused in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashiru.cli import main
from hashiru.conversations import ConversationStore
from tests.cli.test_bad_input import assert_one_clear_line, outcome
from tests.cli.test_startup import heavy, imported
from tests.conversations.conftest import seed, turns
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeTurn

HASHIRU = str(Path(sys.executable).with_name("hashiru"))
CEO = "llama3.2:latest"  # the first model the fake lists, so the default CEO


@pytest.fixture(autouse=True)
def _no_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recall would load the embedding model: seconds each run, and nothing these tests need."""
    monkeypatch.setenv("HASHIRU_ENABLE_MEMORY", "false")


@pytest.fixture
def store() -> ConversationStore:
    """The store `hashiru` uses in this test's HASHIRU_HOME."""
    return ConversationStore(Path(os.environ["HASHIRU_HOME"]) / "conversations.sqlite")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server


def script(path: Path, *replies: dict) -> str:
    path.write_text(json.dumps(list(replies)))
    return f"scripted:{path}"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["run", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def said_to_ceo(fake: FakeOllama, call: int) -> list[tuple[str, str]]:
    """The (role, text) of every message the CEO's model received in its `call`-th request."""
    body = fake.calls("/api/chat")[call].body
    return [(m["role"], m["content"]) for m in body["messages"] if m["role"] != "system"]


def test_continue_gives_the_ceo_the_earlier_turns(fake: FakeOllama, capsys) -> None:
    fake.plan(
        CEO,
        FakeTurn(text="17 * 23 = 391"),
        FakeTurn(text="Paris."),
        FakeTurn(text="392"),
        FakeTurn(text="Lyon is second."),
    )
    first = run_json(capsys, "What is 17 * 23?")
    other = run_json(capsys, "Capital of France?")
    assert first["conversation_id"] != other["conversation_id"]

    # by id (a prefix of it is enough): the CEO hears that conversation, not the latest
    again = run_json(capsys, "And plus one?", "--continue", first["conversation_id"][:6])
    assert again["conversation_id"] == first["conversation_id"]
    assert said_to_ceo(fake, 2) == [
        ("user", "What is 17 * 23?"),
        ("assistant", "17 * 23 = 391"),
        ("user", "And plus one?"),
    ]
    # without an id: the conversation updated last, which is now the first one
    assert main(["run", "And the second city?", "--continue"]) == 0
    out = capsys.readouterr().out
    assert said_to_ceo(fake, 3) == [
        ("user", "What is 17 * 23?"),
        ("assistant", "17 * 23 = 391"),
        ("user", "And plus one?"),
        ("assistant", "392"),
        ("user", "And the second city?"),
    ]
    roles = [m["role"] for m in fake.calls("/api/chat")[3].body["messages"]]
    assert roles.count("system") == 1
    ref = first["conversation_id"]
    summary = out.strip().splitlines()[-1]
    assert f"conversation {ref}" in summary and f"--continue {ref}" in summary


def test_every_run_is_saved_and_continue_keeps_its_policy(tmp_path: Path, store, capsys) -> None:
    one = script(tmp_path / "one.json", {"text": "first answer"})
    two = script(tmp_path / "two.json", {"text": "second answer"})
    three = script(tmp_path / "three.json", {"text": "third answer"})
    started = run_json(capsys, "hello", "--ceo", one, "--max-steps", "3")
    ref = started["conversation_id"]
    saved = store.get(ref)
    assert (saved.source, saved.title, len(saved.turns)) == ("cli", "hello", 1)
    assert (saved.policy.ceo_model, saved.policy.max_steps) == (one, 3)

    # the stored policy, with the flags given on top
    assert run_json(capsys, "again", "--continue", "--ceo", two)["ceo_model"] == two
    assert (store.get(ref).policy.ceo_model, store.get(ref).policy.max_steps) == (two, 3)
    result = run_json(capsys, "once more", "--continue", ref, "--ceo", three, "--max-steps", "5")
    assert result["answer"] == "third answer"
    policy = store.get(ref).policy
    assert (policy.ceo_model, policy.max_steps) == (three, 5)
    assert [t.task for t in store.get(ref).turns] == ["hello", "again", "once more"]


def test_continue_with_nothing_to_continue_is_one_clear_line(store, capsys) -> None:
    status, err = outcome(["run", "hi", "--continue"], capsys)
    assert status == 1
    assert_one_clear_line(status, err, "no conversation to continue yet")


def test_kill_9_mid_turn_leaves_the_conversation_as_it_was(tmp_path: Path, store, capsys):
    fast = script(tmp_path / "fast.json", {"text": "first answer"})
    ref = run_json(capsys, "first", "--ceo", fast)["conversation_id"]
    before = store.get(ref).model_dump()
    slow = script(tmp_path / "slow.json", {"text": "thinking very slowly", "token_delay": 60})
    run = subprocess.Popen(
        [HASHIRU, "run", "second", "--continue", ref, "--ceo", slow],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert run.stdout is not None
    printed, deadline = b"", time.monotonic() + 60
    while b"thinking" not in printed:  # the turn is under way: its first word is out
        assert time.monotonic() < deadline and run.poll() is None, printed
        printed += os.read(run.stdout.fileno(), 4096)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    run.stdout.close()

    assert store.get(ref).model_dump() == before
    after = script(tmp_path / "after.json", {"text": "third answer"})
    assert run_json(capsys, "third", "--continue", "--ceo", after)["conversation_id"] == ref
    assert [(t.number, t.task, t.answer) for t in store.get(ref).turns] == [
        (1, "first", "first answer"),
        (2, "third", "third answer"),
    ]


def test_a_thousand_turns_show_in_reasonable_time(store, capsys) -> None:
    long = store.new(source="cli")
    store.save_turns(long, turns(1000))
    started = time.monotonic()
    assert main(["conversations", "show", long.id]) == 0
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    assert out.startswith("# question 1\n") and "1000 turns" in out.splitlines()[2]
    assert out.count("## You") == 1000 and out.rstrip().endswith("answer 1000")
    assert seconds < 10, f"{seconds:.1f} s to show 1,000 turns"


def test_the_list_is_paged_newest_first_and_searchable(store, capsys) -> None:
    made = seed(store, 45)
    newest_first = [c.id for c in reversed(made)]

    def listed(*argv: str) -> dict:
        assert main(["conversations", *argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    first = listed()
    assert (len(first["items"]), first["total"], first["more"]) == (20, 45, True)
    pages = [listed("list", "--page", str(n)) for n in (1, 2, 3)]
    assert [i["id"] for p in pages for i in p["items"]] == newest_first
    assert pages[2]["more"] is False and len(pages[2]["items"]) == 5
    by_offset = listed("--limit", "10", "--offset", "40")
    assert [i["id"] for i in by_offset["items"]] == newest_first[40:]
    item = first["items"][0]
    assert (item["title"], item["source"], item["turn_count"]) == ("conversation 44", "cli", 1)
    assert item["spent_usd"] == "0"
    found = listed("list", "--search", "topic7")
    assert [i["title"] for i in found["items"]] == ["conversation 7"]

    assert main(["conversations", "--limit", "5"]) == 0
    table = capsys.readouterr().out
    assert "conversation 44" in table and "conversation 39" not in table
    assert "1 to 5 of 45" in table and "--page 2" in table
    assert main(["conversations", "--search", "nothing-like-it"]) == 0
    assert "No conversation matches 'nothing-like-it'" in capsys.readouterr().out
    assert main(["conversations", "--page", "9"]) == 0
    assert "there are 45" in capsys.readouterr().out


def test_rename_export_and_delete(store, tmp_path: Path, capsys) -> None:
    [conversation] = seed(store, 1, turns_each=2)
    ref = conversation.id
    assert main(["conversations", "rename", ref[:5], "  Sums and cities  "]) == 0
    assert store.get(ref).title == "Sums and cities"
    capsys.readouterr()

    assert main(["conversations", "export", ref]) == 0
    exported = capsys.readouterr().out
    assert exported.startswith("# Sums and cities\n") and "answer 2" in exported

    target = tmp_path / "conversation.json"
    assert main(["conversations", "export", ref, "--json", "-o", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    data = json.loads(target.read_text())
    assert {"id", "title", "source", "owner", "created_at", "updated_at", "policy"} <= set(data)
    assert (data["id"], data["title"], data["spent_usd"]) == (ref, "Sums and cities", "0")
    assert [t["task"] for t in data["turns"]] == ["question 1 topic0", "question 2 topic0"]
    assert data["turns"][1]["messages"][-1] == {
        "role": "assistant",
        "text": "answer 2",
        "tool_calls": [],
        "tool_results": [],
    }
    assert data["turns"][1]["events"][-1] == {"kind": "answer", "text": "answer 2"}

    assert main(["conversations", "delete", ref]) == 0
    assert "Deleted conversation" in capsys.readouterr().out
    assert store.page().total == 0


BAD_TITLES = [("x" * 100_000, "at most 200 characters"), ("a\x07b", "U+0007"), ("  ", "empty")]


@pytest.mark.parametrize(("title", "says"), BAD_TITLES, ids=["100 KB", "control", "empty"])
def test_a_bad_title_is_refused_and_changes_nothing(store, capsys, title: str, says: str):
    [conversation] = seed(store, 1)
    before = store.get(conversation.id).model_dump()
    status, err = outcome(["conversations", "rename", conversation.id, title], capsys)
    assert status == 1
    assert_one_clear_line(status, err, says)
    assert store.get(conversation.id).model_dump() == before


def test_an_unknown_or_ambiguous_id_is_one_clear_line(store, capsys) -> None:
    made = seed(store, 40)  # 40 ids in 16 first digits: some digit starts two of them
    firsts = [c.id[0] for c in made]
    shared = next(d for d in firsts if firsts.count(d) > 1)
    before = store.page(limit=100).model_dump()
    commands = (
        ["conversations", "show"],
        ["conversations", "export"],
        ["conversations", "delete"],
        ["run", "hi", "--continue"],
        ["chat"],
    )
    for command in commands:
        for ref, says in (
            ("0123abcd0123", "No conversation '0123abcd0123'"),
            (shared, "starts more than one conversation id"),
            ("not-an-id", "is not a conversation id"),
        ):
            status, err = outcome([*command, ref], capsys)
            assert status == 1, (command, ref)
            assert_one_clear_line(status, err, says)
    status, err = outcome(["conversations", "rename", "0123abcd0123", "A title"], capsys)
    assert_one_clear_line(status, err, "No conversation")
    assert store.page(limit=100).model_dump() == before


@pytest.mark.parametrize("argv", [["conversations"], ["conversations", "--help"]])
def test_the_list_imports_no_heavy_module(tmp_path: Path, argv: list[str]) -> None:
    status, modules = imported(tmp_path, *argv)
    assert status == 0 and heavy(modules) == []


BAD_FLAGS = [
    (["run", "hi", "--continue", ""], "argument --continue: is empty"),
    (["chat", " "], "argument ID: is empty"),
    (["conversations", "--limit", "0"], "argument --limit: must be 1 to 1000"),
    (["conversations", "list", "--page", "0"], "argument --page: must be 1 or more"),
    (["conversations", "--offset", "-1"], "argument --offset: must be 0 or more"),
    (["conversations", "--page", "2", "--offset", "3"], "not allowed with argument"),
    (["conversations", "--search", ""], "argument --search: is empty"),
    (["conversations", "show", ""], "argument id: is empty"),
    (["conversations", "export", "abc", "--md", "--json"], "not allowed with argument"),
    (["conversations", "export", "abc", "-o", "/no/such/folder/x.md"], "argument -o/--output"),
    (["conversations", "rename", "abc"], "required: title"),
    (["conversations", "forget"], "invalid choice"),
]


@pytest.mark.parametrize(("argv", "says"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_a_bad_flag_is_one_clear_line(argv: list[str], says: str, capsys) -> None:
    status, err = outcome(argv, capsys)
    assert status == 2
    assert_one_clear_line(status, err, says)
