"""Cassettes: a run's model calls and provider look-ups, recorded and then played back.

Recording wraps each backend a run uses: every call's request as HASHIRU rendered it (model,
messages, tool specs, max_tokens) and its response (text, tool calls, usage), and every look-up
(model lists, a model's details at hiring) go into the cassette. Playing it back puts a
`ReplayProvider` in place of every backend: nothing is sent anywhere, no key is needed, and the
backends need not exist on this machine. Employees asked at once may call in another order
than when recorded, so a request is matched by its content, not its position; one that matches
no recorded request stops the replay with the step it was at and its first difference from the
closest recorded request.

A tool's result is not compared: it comes from this workspace as it is now. What stops a
replay is a changed prompt, model, tool list or output cap. A cassette holds no keys: the
settings it records are dumped with every secret masked, and requests are kept as HASHIRU's own
messages, never as HTTP with its headers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from hashiru.errors import ConfigError, ProviderError
from hashiru.messages import Message, ModelResponse, ToolSpec
from hashiru.providers.base import ModelInfo, Provider, ProviderConfig, StreamItem

LookupKind = Literal["list_models", "describe", "placements"]


class RecordedCall(BaseModel):
    ref: str  # provider:model
    messages: list[Message]
    tools: list[ToolSpec]
    max_tokens: int
    response: ModelResponse

    def request(self) -> str:
        return _request(self.ref, self.messages, self.tools, self.max_tokens)


class RecordedLookup(BaseModel):
    provider: str
    kind: LookupKind
    model: str = ""
    models: list[ModelInfo]


class RecordedTool(BaseModel):
    """A call of a tool whose answer comes from outside (the web, an MCP server)."""

    name: str
    arguments: dict[str, Any]
    result: Any = None  # its value as JSON
    error: str | None = None  # or why it failed


class Cassette(BaseModel):
    """One recorded run (or several: every call a workspace made while recording)."""

    hashiru_version: str
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    settings: dict[str, Any] = Field(default_factory=dict)  # what made it, secrets masked
    providers: dict[str, bool] = Field(default_factory=dict)  # each backend used: local?
    calls: list[RecordedCall] = Field(default_factory=list)
    lookups: list[RecordedLookup] = Field(default_factory=list)
    tools: list[RecordedTool] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Cassette:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"{path} is not a cassette HASHIRU can play ({first}).") from None

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1), encoding="utf-8")

    @property
    def ceo_model(self) -> str | None:
        return self.settings.get("ceo_model")


class RecordingProvider(Provider):
    """A backend whose calls and look-ups are written into a cassette as they happen."""

    def __init__(self, inner: Provider, cassette: Cassette) -> None:
        super().__init__(inner.config)
        self.inner, self.cassette = inner, cassette
        self.name, self.local = inner.name, inner.local
        self.key_variables, self.can_pull = inner.key_variables, inner.can_pull
        cassette.providers[inner.name] = inner.local

    def unavailable_reason(self) -> str | None:
        return self.inner.unavailable_reason()

    def window(self, model: str, reported: int | None) -> int | None:
        return self.inner.window(model, reported)

    def at(self, host: str) -> Provider:
        inner = self.inner.at(host)
        return self if inner is self.inner else RecordingProvider(inner, self.cassette)

    def pull_hosts(self) -> list[str]:
        return self.inner.pull_hosts()

    def pull(self, model: str) -> Any:
        return self.inner.pull(model)

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        response = await self.inner.complete(model, messages, tools, max_tokens)
        self._record(model, messages, tools, max_tokens, response)
        return response

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        async for item in self.inner.stream(model, messages, tools, max_tokens):
            if isinstance(item, ModelResponse):
                self._record(model, messages, tools, max_tokens, item)
            yield item

    async def list_models(self) -> list[ModelInfo]:
        return self._look("list_models", "", await self.inner.list_models())

    async def describe(self, model: str) -> ModelInfo:
        return self._look("describe", model, [await self.inner.describe(model)])[0]

    async def placements(self, model: str) -> list[ModelInfo]:
        return self._look("placements", model, await self.inner.placements(model))

    def _record(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
        response: ModelResponse,
    ) -> None:
        call = RecordedCall(
            ref=f"{self.name}:{model}",
            messages=list(messages),
            tools=list(tools),
            max_tokens=max_tokens,
            response=response,
        )
        self.cassette.calls.append(call)

    def _look(self, kind: LookupKind, model: str, models: list[ModelInfo]) -> list[ModelInfo]:
        lookup = RecordedLookup(provider=self.name, kind=kind, model=model, models=models)
        self.cassette.lookups.append(lookup)
        return models


class ReplayProvider(Provider):
    """A backend played back from a cassette: no network, no key, $0 (`replayed`).

    Given `new` (the real backend, recording into the same cassette), a request the cassette
    does not have goes to it instead of stopping the replay (`--replay-new`)."""

    def __init__(
        self,
        name: str,
        local: bool,
        cassette: Cassette,
        used: set[int],
        new: Provider | None = None,
    ) -> None:
        super().__init__(new.config if new else ProviderConfig(retries=0))
        self.name, self.local = name, local
        self.cassette, self._used = cassette, used  # indexes of the calls played, shared
        self.new = new
        self.replayed = new is None  # with new calls possible, each reply says if it was
        self._index: dict[str, list[int]] | None = None
        if new is not None:
            self.key_variables = new.key_variables

    def unavailable_reason(self) -> str | None:
        return None  # whatever the new backend lacks shows when a new call needs it

    def _recorded(self) -> dict[str, list[int]]:
        """This backend's recorded calls by request, in the order recorded: made once, so a
        long replay does not compare every request with every recorded one."""
        if self._index is None:
            self._index = {}
            prefix = f"{self.name}:"
            for index, call in enumerate(self.cassette.calls):
                if call.ref.startswith(prefix):
                    self._index.setdefault(call.request(), []).append(index)
        return self._index

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        wanted = _request(f"{self.name}:{model}", messages, tools, max_tokens)
        for index in self._recorded().get(wanted, []):
            if index not in self._used:
                self._used.add(index)
                return self.cassette.calls[index].response.model_copy(update={"replayed": True})
        if self.new is not None:
            return await self.new.complete(model, messages, tools, max_tokens)
        raise ProviderError(
            self.name, "not_found", self._mismatch(model, messages, tools, max_tokens)
        )

    async def list_models(self) -> list[ModelInfo]:
        if self.new is not None and not self._looked("list_models", "", missing_ok=True):
            return await self.new.list_models()
        return self._looked("list_models", "")

    async def describe(self, model: str) -> ModelInfo:
        found = self._looked("describe", model, missing_ok=True) or self._looked(
            "placements", model, missing_ok=self.new is not None
        )
        return found[0] if found else await self._new().describe(model)

    async def placements(self, model: str) -> list[ModelInfo]:
        if found := self._looked("placements", model, missing_ok=True):
            return found
        if self.new is not None and not self._looked("describe", model, missing_ok=True):
            return await self.new.placements(model)
        return [await self.describe(model)]

    def _new(self) -> Provider:
        assert self.new is not None
        return self.new

    def _looked(self, kind: LookupKind, model: str, missing_ok: bool = False) -> list[ModelInfo]:
        for lookup in self.cassette.lookups:
            if (lookup.provider, lookup.kind, lookup.model) == (self.name, kind, model):
                return lookup.models
        if missing_ok:
            return []
        what = f"{kind} of {model}" if model else kind
        message = f"the cassette has no {what} on {self.name}: the run asks what it did not"
        raise ProviderError(self.name, "not_found", message)

    def _mismatch(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
    ) -> str:
        """Which step the unmatched request was at, and how it differs from the closest
        recorded request to the same model (the one sharing the longest run of messages)."""
        ref, messages, tools = f"{self.name}:{model}", list(messages), list(tools)
        step = sum(m.role == "assistant" for m in messages) + 1
        same_model = [c for c in self.cassette.calls if c.ref == ref]
        where = f"The replay stopped at step {step} of a conversation with {ref}"
        if not same_model:
            return f"{where}: the cassette has no call to {ref} at all."
        closest = max(same_model, key=lambda c: _shared(c.messages, messages))
        return f"{where}: {_first_difference(closest, messages, tools, max_tokens)}."


def _request(
    ref: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
) -> str:
    """What a request is matched on, as text: everything but the content of tool results,
    which come from this workspace as it is now (a budget left, a ledger's figures) and may
    differ from the recording's without the run being any different."""
    request = {
        "ref": ref,
        "messages": [_matched(m).model_dump(mode="json") for m in messages],
        "tools": [t.model_dump(mode="json") for t in tools],
        "max_tokens": max_tokens,
    }
    return json.dumps(request, sort_keys=True)


def _matched(message: Message) -> Message:
    if message.role != "tool":
        return message
    results = [r.model_copy(update={"content": ""}) for r in message.tool_results]
    return message.model_copy(update={"tool_results": results})


def _shared(recorded: list[Message], now: list[Message]) -> int:
    """How many messages, from the first, the two requests have alike."""
    pairs = zip(recorded, now, strict=False)
    return next(
        (i for i, (a, b) in enumerate(pairs) if _matched(a) != _matched(b)),
        min(len(recorded), len(now)),
    )


def _first_difference(
    recorded: RecordedCall, messages: list[Message], tools: list[ToolSpec], max_tokens: int
) -> str:
    index = _shared(recorded.messages, messages)
    if index < min(len(recorded.messages), len(messages)):
        was, now = recorded.messages[index], messages[index]
        return (
            f"message {index + 1} ({now.role}) differs from the recording: "
            f"{_short(now.model_dump_json(exclude_defaults=True))} where it was "
            f"{_short(was.model_dump_json(exclude_defaults=True))}"
        )
    if len(recorded.messages) != len(messages):
        return f"it has {len(messages)} messages where the recording has {len(recorded.messages)}"
    if [t.name for t in recorded.tools] != [t.name for t in tools]:
        names = ", ".join(t.name for t in tools)
        return f"its tools are [{names}], not [{', '.join(t.name for t in recorded.tools)}]"
    if recorded.tools != tools:
        return "a tool's description or parameters differ from the recording"
    return f"it asks for {max_tokens} tokens, not {recorded.max_tokens}"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
