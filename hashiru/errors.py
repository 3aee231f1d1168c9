"""One error tree for HASHIRU; every message tells the user what to do next.

Model mistakes (a bad tool call) are not errors: they go back to the model as observations.
These are for configuration mistakes and failures that end a call or a run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal


class HashiruError(Exception):
    """Base of every error HASHIRU raises on purpose; its message is fit to show a user.

    An error that ends a run says which run it was and what the run had spent by then (the
    ledger keeps that spend): `Hashiru.run` sets both before it re-raises.
    """

    run_id: str | None = None
    spent_usd: Decimal | None = None


class ConfigError(HashiruError):
    """A setting is missing or invalid; the message names the setting."""


ProviderErrorKind = Literal[
    "connection", "auth", "not_found", "rate_limit", "server", "timeout", "bad_request"
]

RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limit", "server", "timeout", "connection"})

_STATUS_KINDS: dict[int, ProviderErrorKind] = {
    401: "auth",
    403: "auth",
    404: "not_found",
    408: "timeout",
    429: "rate_limit",
}


def error_kind_for_status(status: int) -> ProviderErrorKind:
    """What an HTTP error status means to us; every backend's and embedder's statuses map here."""
    return _STATUS_KINDS.get(status, "server" if status >= 500 else "bad_request")


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

    @classmethod
    def for_status(cls, provider: str, status: int, message: str) -> ProviderError:
        """The error for an HTTP error reply, its kind taken from the status."""
        return cls(provider, error_kind_for_status(status), message or "no detail given", status)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


class AgentError(HashiruError):
    """Hiring, asking or firing an employee failed (bad name, unknown employee, bad model)."""


class BudgetExceeded(HashiruError):
    """A hire or call does not fit the budget; the message says what is free and what to do."""


class LedgerError(HashiruError):
    """The ledger was asked for something its rows forbid: firing someone not hired, closing a
    hold twice, a negative amount. The caller's mistake; the message says what to do instead."""


class RunLimitError(HashiruError):
    """A run hit its wall-clock cap before the CEO answered."""


class ConversationError(HashiruError):
    """An unknown or damaged conversation, or a bad title: nothing in the store changed."""


class OutcomeError(HashiruError):
    """A verdict the scorecard cannot take (an unknown or failed ask, one already rated, a bad
    verdict or task kind): nothing was recorded; the message says what to do instead."""


class McpError(HashiruError):
    """An MCP server would not start, stopped, did not answer in time, or refused a call. The
    message names the server and never holds a value from its `env` or `headers`."""
