"""The one interface every model backend implements, plus what they all share.

A Provider turns our Messages and ToolSpecs into its SDK's request and the SDK's reply into a
ModelResponse. It reports usage as the backend counts it, maps every failure to ProviderError,
and knows nothing about money, agents or the rest of the settings: it is built from its own
ProviderConfig. `ChatModel` binds a provider to one model name and adds the retry policy, so no
backend retries on its own.
"""

from __future__ import annotations

import asyncio
import random
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, Field, SecretStr

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolSpec

T = TypeVar("T")
StreamItem = TextDelta | ModelResponse


class ModelInfo(BaseModel):
    """What can be hired: one model on one provider."""

    ref: str
    provider: str
    local: bool
    context_tokens: int | None = None
    memory_bytes: int | None = None
    description: str = ""
    hosts: list[str] = Field(default_factory=list)  # where it is served, when there is a choice

    @property
    def host(self) -> str:
        """The one host a hire of this model would load it on; "" when it has no choice."""
        return self.hosts[0] if len(self.hosts) == 1 else ""


class PullProgress(BaseModel):
    """One step of a pull: Ollama's status line and the bytes of every layer announced so far."""

    model: str
    host: str  # the base_url pulled onto
    status: str  # Ollama's own: "pulling manifest", "pulling <digest>", ..., "success"
    completed: int = 0  # bytes done, summed over the layers announced so far
    total: int = 0  # bytes of those layers
    done: bool = False  # True on the last one (status "success")

    @property
    def percent(self) -> int:
        return self.completed * 100 // self.total if self.total else 0


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    """What one backend is given: where it is, its key, and how long and how often to try.

    The registry (`hashiru.providers.Providers`) builds one per backend from the settings; the
    defaults are the settings' defaults, so a test or demo backend needs none of it.
    """

    api_key: SecretStr | None = None
    base_url: str | None = None  # None: the SDK's own endpoint
    timeout: float = 120.0  # seconds for one request
    retries: int = 3  # retries of a retryable failure, by ChatModel
    max_tokens: int = 1024  # a reply's cap when the caller gives none
    default_model: str | None = None  # what a CEO runs on when none is chosen
    context_tokens: Mapping[str, int] = field(default_factory=dict)  # window per model name
    num_ctx: int | None = None  # Ollama's cap on num_ctx (ollama_num_ctx); None: no cap
    hosts: tuple[str, ...] = ()  # Ollama's pool of servers; empty: base_url alone
    model_memory: Mapping[str, int] = field(default_factory=dict)  # bytes per model name, as set
    memory_bytes: int | None = None  # a local endpoint's budget: what a model of unknown size takes


class Provider(ABC):
    name: ClassVar[str]
    local: ClassVar[bool]
    key_variables: ClassVar[tuple[str, ...]] = ()
    """The environment variables that hold this backend's API key; empty: it needs none."""
    can_pull: ClassVar[bool] = False
    """Whether a model it lacks can be downloaded onto it (`pull`)."""
    replayed: ClassVar[bool] = False
    """Whether its answers are played back from a cassette: no call is made, nothing is paid."""

    def __init__(self, config: ProviderConfig | None = None) -> None:
        self.config = config or ProviderConfig()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def new_client(self) -> Any:
        """Make this backend's SDK client; backends that talk to a server override it."""
        raise NotImplementedError

    @property
    def client(self) -> Any:
        """The SDK client for the running event loop, made once and kept.

        Pooled connections belong to the loop that opened them, so a second `asyncio.run`
        (a benchmark, a test, the UI's worker) gets a client of its own.
        """
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = self.new_client()
        return self._clients[loop]

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot be used at all (no key, no package), without network."""
        if self.key_variables and not self._key():
            return self._set_key
        return None

    def api_key(self) -> str:
        """The API key, or an auth error naming the variable to set; no request is made."""
        if key := self._key():
            return key
        raise ProviderError(self.name, "auth", self._set_key)

    def _key(self) -> str:
        return self.config.api_key.get_secret_value() if self.config.api_key else ""

    @property
    def _set_key(self) -> str:
        return f"set {' or '.join(self.key_variables)}"

    @abstractmethod
    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse: ...

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        """Yield text deltas, then the full response. Backends that cannot stream send one delta."""
        response = await self.complete(model, messages, tools, max_tokens)
        if response.text:
            yield TextDelta(text=response.text)
        yield response

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """Every model this backend can serve now; raises ProviderError when unreachable."""

    async def placements(self, model: str) -> list[ModelInfo]:
        """`model` on each host a hire could load it on (each info's `host` naming it): the
        one place `describe` gives, unless the backend has several hosts."""
        return [await self.describe(model)]

    def pull_hosts(self) -> list[str]:
        """The hosts a model could be pulled onto now ("": the backend's one place)."""
        return [""]

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        """Download `model` onto this host, step by step (`can_pull` backends only)."""
        raise ProviderError(self.name, "not_found", f"{self.name} cannot download models")
        yield  # pragma: no cover - makes this an async generator like the real ones

    def at(self, host: str) -> Provider:
        """This backend as it serves an employee loaded on `host` (one of its models' `hosts`);
        a backend with no choice of host is the same everywhere."""
        return self

    @abstractmethod
    async def describe(self, model: str) -> ModelInfo:
        """Check that `model` exists and the credentials work; used when an agent is hired.

        Its `context_tokens` is the window requests to `model` are held to (see `window`)."""

    def window(self, model: str, reported: int | None) -> int | None:
        """The context window requests to `model` are held to: a per-model setting wins over
        what the backend reports; None when neither says."""
        return self.config.context_tokens.get(model) or reported

    def info(self, model: str, context_tokens: int | None = None, **fields: object) -> ModelInfo:
        """What `model` is, its window being `window(model, context_tokens)`."""
        return ModelInfo(
            ref=f"{self.name}:{model}",
            provider=self.name,
            local=self.local,
            context_tokens=self.window(model, context_tokens),
            **fields,
        )


def new_call_id() -> str:
    """An id for a tool call whose provider gives none; unique, so events can be told apart."""
    return f"call_{uuid.uuid4().hex[:12]}"


MAX_BACKOFF_SECONDS = 8.0


async def backoff(attempt: int, base_delay: float) -> None:
    """Sleep before retry `attempt`: exponential, capped, with jitter so callers spread out."""
    delay = min(MAX_BACKOFF_SECONDS, base_delay * 2**attempt)
    await asyncio.sleep(delay * (0.5 + random.random() / 2))


async def with_retries(
    call: Callable[[], Awaitable[T]], attempts: int, base_delay: float = 0.5
) -> T:
    """Run `call`, retrying retryable ProviderErrors up to `attempts` more times."""
    for attempt in range(attempts):
        try:
            return await call()
        except ProviderError as exc:
            if not exc.retryable:
                raise
            await backoff(attempt, base_delay)
    return await call()


class Chat(Protocol):
    """What the agent layer talks to: a ChatModel, or one wrapped to pay for its calls."""

    @property
    def ref(self) -> str: ...

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> ModelResponse: ...

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> AsyncIterator[StreamItem]: ...


@dataclass(frozen=True)
class ChatModel:
    """A provider bound to one model name: what the loop and employees talk to."""

    provider: Provider
    name: str
    retry_base_delay: float = 0.5

    @property
    def ref(self) -> str:
        return f"{self.provider.name}:{self.name}"

    @property
    def local(self) -> bool:
        return self.provider.local

    async def describe(self) -> ModelInfo:
        """The model as its backend (and the settings) describe it: `context_tokens` is the
        window its requests are held to."""
        return await self.provider.describe(self.name)

    @property
    def _attempts(self) -> int:
        return self.provider.config.retries

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> ModelResponse:
        limit = max_tokens or self.provider.config.max_tokens
        return await with_retries(
            lambda: self.provider.complete(self.name, messages, tools, limit),
            self._attempts,
            self.retry_base_delay,
        )

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> AsyncIterator[StreamItem]:
        """Stream with retries, as long as nothing has been yielded yet."""
        limit = max_tokens or self.provider.config.max_tokens
        for attempt in range(self._attempts + 1):
            started = False
            try:
                async for item in self.provider.stream(self.name, messages, tools, limit):
                    started = True
                    yield item
                return
            except ProviderError as exc:
                if started or not exc.retryable or attempt == self._attempts:
                    raise
                await backoff(attempt, self.retry_base_delay)
