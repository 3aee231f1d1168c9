"""One error tree for HASHIRU; every message tells the user what to do next.

Model mistakes (a bad tool call) are not errors: they go back to the model as observations.
These are for configuration mistakes and failures that end a call or a run.
"""

from __future__ import annotations

from typing import Literal


class HashiruError(Exception):
    """Base of every error HASHIRU raises on purpose; its message is fit to show a user."""


class ConfigError(HashiruError):
    """A setting is missing or invalid; the message names the setting."""


ProviderErrorKind = Literal[
    "connection", "auth", "not_found", "rate_limit", "server", "timeout", "bad_request"
]

RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limit", "server", "timeout", "connection"})


class ProviderError(HashiruError):
    """A model backend failed. `kind` says why, whatever the SDK called it."""

    def __init__(
        self,
        provider: str,
        kind: ProviderErrorKind,
        message: str,
        status: int | None = None,
    ) -> None:
        self.provider = provider
        self.kind = kind
        self.status = status
        status_text = f" (HTTP {status})" if status else ""
        super().__init__(f"{provider}: {kind.replace('_', ' ')}{status_text}: {message}")

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


class AgentError(HashiruError):
    """Hiring, asking or firing an employee failed (bad name, unknown employee, bad model)."""


class BudgetExceeded(HashiruError):
    """A hire or call does not fit the budget; the message says what is free and what to do."""


class RunLimitError(HashiruError):
    """A run hit its wall-clock cap before the CEO answered."""
