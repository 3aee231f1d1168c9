"""The two endpoints the original HASHIRUBench drives through `gradio_client`, unchanged.

`/update_model` sets this client session's switches by the original's mode names;
`/chat` answers one message, optionally continuing a history it is given, and returns
`(response, history)` with every `content` a plain string, as the original scripts read it.
Each `/chat` call is saved as a new conversation marked `api` (the client's history as its
earlier turns), which the app's list shows and `hashiru run --continue ID` continues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from hashiru.errors import ConfigError
from hashiru.messages import Message
from hashiru.runtime import ceo_system_prompt
from hashiru.ui.session import Session
from hashiru.ui.turn import run_turn

History = list[dict[str, Any]]


def add_api(session_of: Callable[[gr.Request], Session]) -> None:
    """Register `/update_model` and `/chat` on the Blocks being built."""

    def update_model(modeIndexes: list[str], request: gr.Request) -> list[str]:
        """Turn on exactly these modes (ENABLE_AGENT_CREATION, ENABLE_MEMORY, ...)."""
        session = session_of(request)
        try:
            session.set_modes(list(modeIndexes or []))
        except ConfigError as exc:
            raise gr.Error(str(exc)) from None
        return session.modes()

    async def chat(
        message: dict[str, Any], history: History | None = None, request: gr.Request = None
    ) -> tuple[str, History]:
        """Answer `message` ({"text", "files"}), continuing `history` when it is given."""
        earlier = [_plain(turn) for turn in history or [] if _is_said(turn)]
        session = session_of(request).fresh(source="api")
        files = await asyncio.to_thread(_uploaded, message.get("files") or [])
        text, answer = message.get("text") or "", ""
        turns = run_turn(session, text, files, ask_approval=False, history=_messages(earlier))
        async for update in turns:
            last = update.transcript.messages[-1]
            answer = update.answer or (last["content"] if update.done else answer)
        said = [*earlier, {"role": "user", "content": text}]
        return answer, [*said, {"role": "assistant", "content": answer}]

    gr.api(update_model, api_name="update_model")
    gr.api(chat, api_name="chat", concurrency_limit=None)


def _uploaded(files: list[Any]) -> list[str]:
    """Paths of files the client uploaded; a path elsewhere on this machine is refused."""
    folder = Path(get_upload_folder()).resolve()
    paths = []
    for file in files:
        path = Path(file.get("path", "") if isinstance(file, dict) else str(file)).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise gr.Error(f"{path.name or file!r} is not a file uploaded to this app.")
        paths.append(str(path))
    return paths


def _is_said(turn: dict[str, Any]) -> bool:
    """A user or assistant message, not a tool step the chat shows (those carry a title)."""
    titled = bool((turn.get("metadata") or {}).get("title"))
    return turn.get("role") in ("user", "assistant") and not titled


def _plain(turn: dict[str, Any]) -> dict[str, str]:
    """A turn with its content as a string (Gradio 6 gives a Chatbot's content as parts)."""
    content = turn.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return {"role": turn["role"], "content": str(content or "")}


def _messages(history: History) -> list[Message] | None:
    if not history:
        return None
    messages = [Message.system(ceo_system_prompt())]
    for turn in history:
        maker = Message.user if turn["role"] == "user" else Message.assistant
        messages.append(maker(turn["content"]))
    return messages
