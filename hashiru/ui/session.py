"""Per-browser-session state: the open conversation, and the settings this session chose.

Each session (a browser tab, or a `gradio_client`) has its own open conversation and its own
RunPolicy (switches, caps and CEO model); the employees, tools, memories, the ledger and the
saved conversations belong to the workspace (one `Hashiru`), which every session shares.
With `--auth` a session belongs to its login, and sees and opens only that login's
conversations.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from hashiru.conversations import Conversation, ConversationSummary, Source
from hashiru.errors import ConfigError
from hashiru.runtime import Hashiru
from hashiru.settings import SWITCHES, RunPolicy
from hashiru.transcript import ChatItem, redraw

MODES: dict[str, str] = {f"ENABLE_{switch.upper()}": f"enable_{switch}" for switch in SWITCHES}
"""The original HASHIRU's mode names (its `/update_model` API) and the settings they set."""

DRAWN_TURNS = 200
"""The most turns the chat draws when a conversation opens: a browser takes seconds to draw a
thousand, and the CEO has every turn whatever the chat shows."""

MODE_LABELS: dict[str, str] = {
    mode: name.removeprefix("enable_").replace("_", " ").capitalize()
    for mode, name in MODES.items()
}


@dataclass
class Session:
    """One session's open conversation with the CEO, and the policy its turns run under."""

    hashiru: Hashiru  # the workspace, shared with every other session
    policy: RunPolicy
    login: str | None = None  # the --auth user; None without a login (every one is listed)
    source: Source = "app"  # where its conversations are said: the page, or the API
    conversation: Conversation = field(init=False)  # the CEO's context, saved turn by turn
    chat: list[ChatItem] = field(default_factory=list)  # what the chat shows
    listed: list[ConversationSummary] = field(default_factory=list)  # the list's rows
    query: str = ""  # what the list is searched for
    score_kind: str | None = None  # the kind the Team tab's scorecard shows; None: every kind
    running: bool = False
    pending: asyncio.Future[bool] | None = None  # a tool awaiting the person's approval

    def __post_init__(self) -> None:
        self.reset()

    def fresh(self, source: Source) -> Session:
        """Another session with this one's policy and login, on a new conversation: each
        `/chat` call is one."""
        return Session(self.hashiru, self.policy, self.login, source)

    def configure(self, **changes: Any) -> None:
        """Change this session's policy; a bad value raises ConfigError and changes nothing."""
        self.policy = self.policy.updated(**changes)

    def modes(self) -> list[str]:
        return [mode for mode, name in MODES.items() if getattr(self.policy, name)]

    def set_modes(self, modes: list[str]) -> None:
        """Turn on exactly `modes` (the original's mode names); the others go off."""
        unknown = sorted(set(modes) - MODES.keys())
        if unknown:
            raise ConfigError(f"Unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}.")
        self.configure(**{name: mode in modes for mode, name in MODES.items()})

    def reset(self) -> None:
        """A new conversation, under the settings this session has now."""
        self.conversation = self.hashiru.conversations.new(
            source=self.source, owner=self.login or "", policy=self.policy
        )
        self.chat = []

    def open(self, conversation: Conversation) -> None:
        """Continue a saved conversation: its chat (its last DRAWN_TURNS turns), its context and
        the settings it ran with. Blocking for a long one: call it on a thread."""
        self.conversation = conversation
        self.policy = conversation.policy or self.hashiru.policy
        self.chat = redraw(conversation, last=DRAWN_TURNS).messages


class Sessions:
    """Sessions by Gradio session hash; thread-safe, since handlers run on several threads."""

    def __init__(self, workspace: Hashiru) -> None:
        self.workspace = workspace
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_hash: str | None, login: str | None = None) -> Session:
        with self._lock:
            key = session_hash or ""
            if key not in self._sessions:
                self._sessions[key] = Session(self.workspace, self.workspace.policy, login)
            return self._sessions[key]

    def drop(self, session_hash: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_hash or "", None)
