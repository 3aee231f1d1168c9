"""Durable conversations: each turn of a conversation with the CEO, kept in SQLite.

A conversation is what a person sees as one chat: its title, where it came from, the policy its
turns ran under, and its turns. Each turn keeps what it added to the CEO's context (typed
`Message`s), what the chat showed (the run's events, as records) and the run it was, so the
ledger says what it spent. Any renderer (the app, `hashiru conversations show`, the Markdown
export) redraws a conversation from these values.
"""

from hashiru.conversations.model import (
    Conversation,
    ConversationPage,
    ConversationSummary,
    Source,
    Turn,
    check_title,
    imported_turns,
    title_from,
)
from hashiru.conversations.store import PAGE_SIZE, ConversationStore

__all__ = [
    "PAGE_SIZE",
    "Conversation",
    "ConversationPage",
    "ConversationStore",
    "ConversationSummary",
    "Source",
    "Turn",
    "check_title",
    "imported_turns",
    "title_from",
]
