"""`hashiru chat` in real processes: piped lines are turns of one conversation, a continued chat
shows where it left off, Ctrl+C stops only the turn in flight, and a terminal gets a prompt."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashiru.conversations import ConversationStore
from tests.cli.terminal import HASHIRU, on_a_terminal, read_until
from tests.conversations.conftest import turns
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeTurn

CEO = "llama3.2:latest"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    monkeypatch.setenv("HASHIRU_ENABLE_MEMORY", "false")  # recall would load a model: seconds
    with FakeOllama() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server


@pytest.fixture
def store() -> ConversationStore:
    return ConversationStore(Path(os.environ["HASHIRU_HOME"]) / "conversations.sqlite")


def chat(*argv: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HASHIRU, "chat", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[arg-type]
    )


def said_to_ceo(fake: FakeOllama, call: int) -> list[str]:
    """The user and assistant texts the CEO's model received in its `call`-th request."""
    body = fake.calls("/api/chat")[call].body
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


def test_piped_lines_are_turns_of_one_conversation(fake: FakeOllama, store) -> None:
    fake.plan(CEO, FakeTurn(text="17 * 23 = 391"), FakeTurn(text="392"))
    out, err = chat().communicate("What is 17 * 23?\n\n   \nAnd plus one?\n", timeout=120)
    assert "Traceback" not in err, err
    assert "17 * 23 = 391" in out and "392" in out
    assert said_to_ceo(fake, 1) == ["What is 17 * 23?", "17 * 23 = 391", "And plus one?"]
    [saved] = store.page().items
    conversation = store.get(saved.id)
    assert conversation.source == "cli"
    assert [(t.task, t.answer) for t in conversation.turns] == [
        ("What is 17 * 23?", "17 * 23 = 391"),
        ("And plus one?", "392"),
    ]
    assert f"hashiru chat {saved.id}" in out


def test_a_continued_chat_shows_its_last_turns_first(fake: FakeOllama, store) -> None:
    earlier = store.new(source="cli")
    store.save_turns(earlier, turns(5))
    fake.plan(CEO, FakeTurn(text="answer 6"))
    process = chat(earlier.id[:6])
    out, err = process.communicate("question 6\n", timeout=120)
    assert process.returncode == 0, err
    shown, _, after = out.partition("you> question 6")
    assert "2 earlier turns" in shown and f"conversations show {earlier.id}" in shown
    assert "question 1\n" not in shown and "question 2\n" not in shown
    assert all(f"question {n}" in shown and f"answer {n}" in shown for n in (3, 4, 5))
    assert "answer 6" in after
    heard = said_to_ceo(fake, 0)
    assert heard[:2] == ["question 1", "answer 1"] and heard[-3:] == [
        "question 5",
        "answer 5",
        "question 6",
    ]
    assert [t.task for t in store.get(earlier.id).turns][-2:] == ["question 5", "question 6"]


def test_ctrl_c_stops_only_the_turn_in_flight(fake: FakeOllama, store) -> None:
    fake.plan(CEO, FakeTurn(text="One."), FakeTurn(text="late", delay=60), FakeTurn(text="Three."))
    process = chat()
    assert process.stdin is not None
    process.stdin.write("first\nsecond\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while len(fake.calls("/api/chat")) < 2:  # the second turn waits on the model
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate("third\n", timeout=60)

    assert process.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    assert "Three." in out and "\nlate" not in out
    assert said_to_ceo(fake, 2) == ["first", "One.", "third"]  # the stopped turn left no trace
    [saved] = store.page().items
    assert [(t.task, t.answer) for t in store.get(saved.id).turns] == [
        ("first", "One."),
        ("third", "Three."),
    ]


def test_a_terminal_gets_a_prompt_and_ctrl_d_leaves(tmp_path: Path, store) -> None:
    ceo = tmp_path / "ceo.json"
    ceo.write_text('[{"text": "Hello from the CEO."}]')
    args = ["chat", "--ceo", f"scripted:{ceo}"]
    with on_a_terminal(args, {"HASHIRU_ENABLE_MEMORY": "false"}) as (process, main):
        assert "you> " in read_until(main, "you> ")
        os.write(main, b"hi there\n")
        assert "Hello from the CEO." in read_until(main, "you> ")
        os.write(main, b"\x04")  # Ctrl+D at an empty prompt
        assert process.wait(timeout=60) == 0
    [saved] = store.page().items
    assert [t.task for t in store.get(saved.id).turns] == ["hi there"]
