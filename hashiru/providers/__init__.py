"""Model backends behind one interface, addressed by `provider:model` strings.

Backends are imported lazily: the SDKs take a second or more each to import, and a run on the
embedded model should not pay for Gemini's. `Providers` is the one place that reads Settings:
each backend is built from the ProviderConfig made for it here.
"""

from __future__ import annotations

import importlib
import threading
from typing import Literal

from hashiru.errors import ConfigError
from hashiru.providers.base import Chat, ChatModel, ModelInfo, Provider, ProviderConfig
from hashiru.providers.cassette import Cassette, RecordingProvider, ReplayProvider
from hashiru.settings import GIB, ModelSettings, Settings

__all__ = [
    "BACKENDS",
    "Cassette",
    "Chat",
    "ChatModel",
    "ModelInfo",
    "Provider",
    "ProviderConfig",
    "Providers",
    "provider_config",
]

ENDPOINT_BACKEND = "hashiru.providers.endpoint:EndpointProvider"
"""The backend of every `[endpoints.NAME]`: Chat Completions, named by the endpoint."""

BACKENDS: dict[str, str] = {
    "ollama": "hashiru.providers.ollama_pool:OllamaPool",
    "gemini": "hashiru.providers.gemini:GeminiProvider",
    "anthropic": "hashiru.providers.anthropic:AnthropicProvider",
    "openai": "hashiru.providers.openai:OpenAIProvider",
    "embedded": "hashiru.providers.embedded:EmbeddedProvider",
    "scripted": "hashiru.providers.scripted:ScriptedProvider",
}


def provider_config(settings: Settings, name: str) -> ProviderConfig:
    """The part of `settings` that backend `name` is given."""
    models = _models(settings, name)
    shared = {
        "timeout": settings.request_timeout,
        "retries": settings.retries,
        "max_tokens": settings.max_tokens,
        "context_tokens": {m: s.context_tokens for m, s in models if s.context_tokens},
        "model_memory": {m: int(s.memory_gib * GIB) for m, s in models if s.memory_gib},
    }
    if name in settings.endpoints:
        endpoint = settings.endpoints[name]
        memory = endpoint.memory_gib
        return ProviderConfig(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            memory_bytes=int(memory * GIB) if memory else None,
            **shared,
        )
    if name == "ollama":
        hosts = tuple(host.url for host in settings.pool)
        return ProviderConfig(
            base_url=hosts[0],
            hosts=hosts if settings.ollama_hosts else (),
            num_ctx=settings.ollama_num_ctx,
            **shared,
        )
    if name == "gemini":
        return ProviderConfig(
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            default_model=settings.gemini_default_model,
            **shared,
        )
    if name == "anthropic":
        return ProviderConfig(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            default_model=settings.anthropic_default_model,
            **shared,
        )
    if name == "openai":
        return ProviderConfig(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            default_model=settings.openai_default_model,
            **shared,
        )
    return ProviderConfig(**shared)


def _models(settings: Settings, name: str) -> list[tuple[str, ModelSettings]]:
    """What `[models."name:model"]` says of backend `name`'s models, by model name."""
    return [
        (ref.partition(":")[2], model)
        for ref, model in settings.models.items()
        if ref.partition(":")[0] == name
    ]


class Providers:
    """One instance of each backend per runtime, created on first use.

    `extra` backends (a test's scripted models) come ready-made, with their own config.
    """

    def __init__(
        self,
        settings: Settings,
        extra: dict[str, Provider] | None = None,
        cassette: Cassette | None = None,
        replay: Literal["", "only", "new"] = "",
    ) -> None:
        """`cassette`: record every backend's calls into it; or play them back from it instead
        of any backend (`replay="only"`), sending only what it lacks to the real backends and
        recording that too (`replay="new"`)."""
        self.settings = settings
        self.cassette, self.replay = cassette, replay if cassette is not None else ""
        self._played: set[int] = set()  # the cassette's calls played back so far
        self._extra = dict(extra or {})
        self._instances: dict[str, Provider] = {}
        self._lock = threading.Lock()  # backends are imported in threads too (`survey`)
        if clash := sorted(settings.endpoints.keys() & BACKENDS.keys()):
            raise ConfigError(
                f"[endpoints.{clash[0]}] in hashiru.toml takes a built-in provider's name; "
                "rename the endpoint."
            )

    @property
    def names(self) -> list[str]:
        """Every backend: the built-in ones, then each endpoint (and, played back, whatever the
        cassette used)."""
        names = [*BACKENDS, *self.settings.endpoints]
        played = list(self.cassette.providers) if self.replay and self.cassette else []
        return [*names, *(name for name in played if name not in names)]

    def parse_ref(self, ref: str) -> tuple[str, str]:
        """Split `provider:model`; the model part may itself contain colons (`ollama:qwen3:8b`)."""
        provider, sep, model = ref.partition(":")
        if not sep or not model or provider not in self.names:
            known = ", ".join(f"{name}:<model>" for name in self.names)
            raise ConfigError(f"Model '{ref}' is not of the form provider:model ({known}).")
        return provider, model

    def _known(self, name: str) -> str:
        if name not in self.names:
            raise ConfigError(f"Unknown provider '{name}' (known: {', '.join(self.names)}).")
        return name

    def config(self, name: str) -> ProviderConfig:
        """Backend `name`'s config, without importing its SDK (a ready-made one keeps its own)."""
        if name in self._extra:
            return self._extra[name].config
        if self.replay == "only" and name not in BACKENDS and name not in self.settings.endpoints:
            return ProviderConfig(retries=0)  # a backend of the cassette's, unknown here
        return provider_config(self.settings, self._known(name))

    def get(self, name: str) -> Provider:
        """Backend `name`, importing its SDK the first time (seconds for some: from async
        code, call this in a thread)."""
        with self._lock:
            if name not in self._instances:
                self._instances[name] = self._made(name)
            return self._instances[name]

    def _made(self, name: str) -> Provider:
        """Backend `name` as this registry serves it: real, recorded or played back."""
        if self.replay:
            assert self.cassette is not None
            local = self.cassette.providers.get(name, True)
            new = self._recorded(self._real(name)) if self.replay == "new" else None
            return ReplayProvider(name, local, self.cassette, self._played, new)
        return self._recorded(self._real(name))

    def _real(self, name: str) -> Provider:
        if name in self._extra:
            return self._extra[name]
        endpoint = self.settings.endpoints.get(self._known(name))
        module_name, class_name = (BACKENDS.get(name) or ENDPOINT_BACKEND).split(":")
        backend = getattr(importlib.import_module(module_name), class_name)
        if endpoint is None:
            return backend(config=self.config(name))
        return backend(name, endpoint, self.config(name))

    def _recorded(self, backend: Provider) -> Provider:
        """`backend`, writing into the cassette when there is one."""
        if self.cassette is None:
            return backend
        return RecordingProvider(backend, self.cassette)

    def model(self, ref: str, host: str = "") -> ChatModel:
        """`ref` as an employee loaded on `host` talks to it ("": the backend's one place)."""
        provider, model = self.parse_ref(ref)
        return ChatModel(self.get(provider).at(host), model)
