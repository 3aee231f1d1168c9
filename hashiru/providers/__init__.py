"""Model backends behind one interface, addressed by `provider:model` strings.

Backends are imported lazily: the SDKs take a second or more each to import, and a run on the
embedded model should not pay for Gemini's. `Providers` is the one place that reads Settings:
each backend is built from the ProviderConfig made for it here.
"""

from __future__ import annotations

import importlib
import threading

from hashiru.errors import ConfigError
from hashiru.providers.base import Chat, ChatModel, ModelInfo, Provider, ProviderConfig
from hashiru.settings import Settings

__all__ = [
    "BACKENDS",
    "Chat",
    "ChatModel",
    "ModelInfo",
    "Provider",
    "ProviderConfig",
    "Providers",
    "parse_ref",
    "provider_config",
]

BACKENDS: dict[str, str] = {
    "ollama": "hashiru.providers.ollama:OllamaProvider",
    "gemini": "hashiru.providers.gemini:GeminiProvider",
    "anthropic": "hashiru.providers.anthropic:AnthropicProvider",
    "openai": "hashiru.providers.openai:OpenAIProvider",
    "embedded": "hashiru.providers.embedded:EmbeddedProvider",
    "scripted": "hashiru.providers.scripted:ScriptedProvider",
}


def _known(name: str) -> str:
    if name not in BACKENDS:
        raise ConfigError(f"Unknown provider '{name}' (known: {', '.join(BACKENDS)}).")
    return name


def parse_ref(ref: str) -> tuple[str, str]:
    """Split `provider:model`; the model part may itself contain colons (`ollama:qwen3:8b`)."""
    provider, sep, model = ref.partition(":")
    if not sep or not model or provider not in BACKENDS:
        known = ", ".join(f"{name}:<model>" for name in BACKENDS)
        raise ConfigError(f"Model '{ref}' is not of the form provider:model ({known}).")
    return provider, model


def provider_config(settings: Settings, name: str) -> ProviderConfig:
    """The part of `settings` that backend `name` is given."""
    shared = {
        "timeout": settings.request_timeout,
        "retries": settings.retries,
        "max_tokens": settings.max_tokens,
        "context_tokens": context_overrides(settings, name),
    }
    if name == "ollama":
        return ProviderConfig(
            base_url=settings.ollama_host, num_ctx=settings.ollama_num_ctx, **shared
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


def context_overrides(settings: Settings, name: str) -> dict[str, int]:
    """Backend `name`'s per-model windows from `[models."name:model"]`, by model name."""
    return {
        ref.partition(":")[2]: model.context_tokens
        for ref, model in settings.models.items()
        if ref.partition(":")[0] == name and model.context_tokens
    }


class Providers:
    """One instance of each backend per runtime, created on first use.

    `extra` backends (a test's scripted models) come ready-made, with their own config.
    """

    def __init__(self, settings: Settings, extra: dict[str, Provider] | None = None) -> None:
        self.settings = settings
        self._instances: dict[str, Provider] = dict(extra or {})
        self._lock = threading.Lock()  # backends are imported in threads too (`survey`)

    def config(self, name: str) -> ProviderConfig:
        """Backend `name`'s config, without importing its SDK (a ready-made one keeps its own)."""
        if name in self._instances:
            return self._instances[name].config
        return provider_config(self.settings, _known(name))

    def get(self, name: str) -> Provider:
        """Backend `name`, importing its SDK the first time (seconds for some: from async
        code, call this in a thread)."""
        with self._lock:
            if name not in self._instances:
                module_name, class_name = BACKENDS[_known(name)].split(":")
                backend = getattr(importlib.import_module(module_name), class_name)
                self._instances[name] = backend(config=self.config(name))
            return self._instances[name]

    def model(self, ref: str) -> ChatModel:
        provider, model = parse_ref(ref)
        return ChatModel(self.get(provider), model)
