"""The original HASHIRUBench's two endpoints, driven by gradio_client exactly as its scripts do."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from gradio_client import Client, handle_file

from hashiru.messages import Message, ToolSpec
from hashiru.providers.scripted import Script
from tests.ui.conftest import ORIGINAL_MODES, call


def tool_names(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
    """A CEO turn that answers with the names of the tools it was offered."""
    return {"text": " ".join(sorted(t.name for t in tools))}


def echo_conversation(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
    """A CEO turn that answers with every user and assistant text it was sent."""
    said = [f"{m.role}:{m.text}" for m in messages if m.role in ("user", "assistant")]
    return {"text": " | ".join(said)}


def client(url: str) -> Client:
    return Client(url, verbose=False)


def test_exactly_the_two_endpoints_are_public(serve):
    served = serve({"ceo": Script([{"text": "hi"}])}, enable_memory=False)
    endpoints = client(served.url).view_api(return_format="dict", print_info=False)
    assert set(endpoints["named_endpoints"]) == {"/update_model", "/chat"}
    assert endpoints["unnamed_endpoints"] == {}


def test_update_model_turns_on_exactly_the_modes_given(serve):
    served = serve({"ceo": Script([tool_names], repeat=True)})
    app = client(served.url)
    modes = ["ENABLE_LOCAL_AGENTS", "ENABLE_TOOL_INVOCATION"]
    assert app.predict(modeIndexes=modes, api_name="/update_model") == modes

    answer, _ = app.predict(message={"text": "tools?", "files": []}, api_name="/chat")
    offered = set(answer.split())
    assert {"ask_agent", "list_agents", "run_python", "get_budget"} <= offered
    assert not offered & {"hire_agent", "fire_agent", "create_tool", "save_memory"}

    app.predict(modeIndexes=ORIGINAL_MODES, api_name="/update_model")
    answer, _ = app.predict(message={"text": "tools?", "files": []}, api_name="/chat")
    assert {"hire_agent", "create_tool", "save_memory"} <= set(answer.split())


def test_unknown_mode_is_a_clear_error_and_changes_nothing(serve):
    served = serve({"ceo": Script([{"text": "hi"}])}, enable_memory=False)
    app = client(served.url)
    app.predict(modeIndexes=["ENABLE_LOCAL_AGENTS"], api_name="/update_model")
    with pytest.raises(Exception, match="Unknown mode"):
        app.predict(modeIndexes=["ENABLE_TELEPATHY"], api_name="/update_model")
    kept = app.predict(modeIndexes=["ENABLE_LOCAL_AGENTS"], api_name="/update_model")
    assert kept == ["ENABLE_LOCAL_AGENTS"]


def test_chat_returns_the_answer_and_a_plain_history_that_a_second_turn_continues(serve):
    ceo = Script([call_then_answer := {"text": "391"}, echo_conversation])
    served = serve({"ceo": ceo}, enable_memory=False)
    app = client(served.url)

    job = app.submit(message={"text": "What is 17 * 23?", "files": []}, api_name="/chat")
    response, history = job.result()
    assert response == "391"
    assert history == [
        {"role": "user", "content": "What is 17 * 23?"},
        {"role": "assistant", "content": call_then_answer["text"]},
    ]

    response, history = app.predict({"text": "And plus 1?", "files": []}, history, api_name="/chat")
    assert response == "user:What is 17 * 23? | assistant:391 | user:And plus 1?"
    assert [turn["content"] for turn in history][-2:] == ["And plus 1?", response]
    assert all(isinstance(turn["content"], str) for turn in history)
    # the API's calls also tell the app its event loop, where shutdown stops the sandbox
    assert served.app.loop is not None


def test_without_history_each_chat_is_a_new_conversation(serve):
    served = serve({"ceo": Script([echo_conversation], repeat=True)}, enable_memory=False)
    app = client(served.url)
    app.predict(message={"text": "first", "files": []}, api_name="/chat")
    response, _ = app.predict(message={"text": "second", "files": []}, api_name="/chat")
    assert response == "user:second"


def test_a_run_that_fails_answers_with_a_readable_error_and_the_app_goes_on(serve):
    ceo = Script([{"tool_calls": [call("ask_agent", name="nobody", prompt="x")]}])
    served = serve({"ceo": ceo}, enable_memory=False, max_steps=2)
    app = client(served.url)
    # step 1 asks a missing employee (an error result), step 2 has no script left
    response, _ = app.predict(message={"text": "go", "files": []}, api_name="/chat")
    assert response.startswith("⚠") and "no turns left" in response
    assert "Traceback" not in response
    served.hashiru.providers.get("scripted").scripts["ceo"] = Script([{"text": "back"}])
    response, _ = app.predict(message={"text": "again", "files": []}, api_name="/chat")
    assert response == "back"
    assert served.hashiru.ledger.state().usd_reserved == 0


def test_attached_files_are_placed_in_the_workspace(serve, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("the tide is high")
    ceo = Script(
        [
            {"tool_calls": [call("read_file", path="notes.txt")]},
            lambda messages, tools: {"text": messages[-1].tool_results[0].content},
        ]
    )
    served = serve({"ceo": ceo}, enable_memory=False)
    app = client(served.url)
    message = {"text": "read my notes", "files": [handle_file(str(notes))]}
    response, _ = app.predict(message=message, api_name="/chat")
    assert "the tide is high" in response
    assert (served.hashiru.settings.workspace_dir / "notes.txt").read_text() == "the tide is high"


def test_two_sessions_run_turns_at_once_with_their_own_modes(serve):
    a_began = threading.Event()

    def slow_tool_names(messages, tools):
        """Turn a is slow (asyncio's delay: it must not block turn b); turn b answers at once."""
        is_a = [m.text for m in messages if m.role == "user"][-1] == "a"
        if is_a:
            a_began.set()
        return {"text": " ".join(sorted(t.name for t in tools)), "delay": 3.0 if is_a else 0}

    served = serve({"ceo": Script([slow_tool_names], repeat=True)}, enable_memory=False)
    a, b = client(served.url), client(served.url)
    a.predict(modeIndexes=["ENABLE_LOCAL_AGENTS"], api_name="/update_model")
    b.predict(modeIndexes=["ENABLE_TOOL_INVOCATION"], api_name="/update_model")
    answers: dict[str, str] = {}
    order: list[str] = []  # the turns in the order they ended

    def ask(name: str, app: Client) -> None:
        answers[name], _ = app.predict(message={"text": name, "files": []}, api_name="/chat")
        order.append(name)

    turn_a = threading.Thread(target=ask, args=("a", a))
    turn_b = threading.Thread(target=ask, args=("b", b))
    turn_a.start()
    assert a_began.wait(timeout=60)
    turn_b.start()  # while turn a is in its slow model call
    turn_a.join()
    turn_b.join()

    assert order == ["b", "a"], "turn b waited for turn a: the two turns ran one after the other"
    assert "ask_agent" in answers["a"].split() and "run_python" not in answers["a"].split()
    assert "run_python" in answers["b"].split() and "ask_agent" not in answers["b"].split()


def test_a_path_that_was_not_uploaded_is_refused(serve, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    served = serve({"ceo": Script([{"text": "hi"}], repeat=True)}, enable_memory=False)
    app = client(served.url)
    forged = {"path": str(secret)}  # not marked as a file, so the client does not upload it
    with pytest.raises(Exception, match="not a file uploaded"):
        app.predict(message={"text": "x", "files": [forged]}, api_name="/chat")
    assert not (served.hashiru.settings.workspace_dir / "secret.txt").exists()
