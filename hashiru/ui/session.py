"""Per-browser-session state: the conversation, and the settings this session chose.

Each session (a browser tab, or a `gradio_client`) has its own conversation and its own
RunPolicy (switches, caps and CEO model); the employees, tools, memories and the ledger belong
to the workspace (one `Hashiru`), which every session's runs share.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from hashiru.errors import ConfigError
from hashiru.messages import Message
from hashiru.runtime import Hashiru
from hashiru.settings import SWITCHES, RunPolicy
from hashiru.ui.transcript import ChatItem

MODES: dict[str, str] = {f"ENABLE_{switch.upper()}": f"enable_{switch}" for switch in SWITCHES}
"""The original HASHIRU's mode names (its `/update_model` API) and the settings they set."""

MODE_LABELS: dict[str, str] = {
    mode: name.removeprefix("enable_").replace("_", " ").capitalize()
    for mode, name in MODES.items()
}


@dataclass
class Session:
    """One session's conversation with the CEO, and the policy its turns run under."""

    hashiru: Hashiru  # the workspace, shared with every other session
    policy: RunPolicy
    history: list[Message] | None = None  # the CEO's conversation; None: not started
    chat: list[ChatItem] = field(default_factory=list)  # what the chat shows
    running: bool = False
    pending: asyncio.Future[bool] | None = None  # a tool awaiting the person's approval

    def configure(self, **changes: Any) -> None:
        """Change this session's policy; a bad value raises ConfigError and changes nothing."""
        self.policy = self.policy.updated(**changes)

    def fresh(self, history: list[Message] | None) -> Session:
        """A new conversation (continuing `history`, if any) under this session's policy."""
        return Session(self.hashiru, self.policy, history)

    def modes(self) -> list[str]:
        return [mode for mode, name in MODES.items() if getattr(self.policy, name)]

    def set_modes(self, modes: list[str]) -> None:
        """Turn on exactly `modes` (the original's mode names); the others go off."""
        unknown = sorted(set(modes) - MODES.keys())
        if unknown:
            raise ConfigError(f"Unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}.")
        self.configure(**{name: mode in modes for mode, name in MODES.items()})

    def reset(self) -> None:
        self.history, self.chat = None, []


class Sessions:
    """Sessions by Gradio session hash; thread-safe, since handlers run on several threads."""

    def __init__(self, workspace: Hashiru) -> None:
        self.workspace = workspace
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_hash: str | None) -> Session:
        with self._lock:
            key = session_hash or ""
            if key not in self._sessions:
                self._sessions[key] = Session(self.workspace, self.workspace.policy)
            return self._sessions[key]

    def drop(self, session_hash: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_hash or "", None)
