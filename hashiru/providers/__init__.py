"""Model backends behind one interface, addressed by `provider:model` strings.

Backends are imported lazily: the SDKs take a second or more each to import, and a run on the
embedded model should not pay for Gemini's.
"""

from __future__ import annotations

import importlib

from hashiru.errors import ConfigError
from hashiru.providers.base import Chat, ChatModel, ModelInfo, Provider
from hashiru.settings import Settings

__all__ = ["BACKENDS", "Chat", "ChatModel", "ModelInfo", "Provider", "Providers", "parse_ref"]

BACKENDS: dict[str, str] = {
    "ollama": "hashiru.providers.ollama:OllamaProvider",
    "gemini": "hashiru.providers.gemini:GeminiProvider",
    "anthropic": "hashiru.providers.anthropic:AnthropicProvider",
    "embedded": "hashiru.providers.embedded:EmbeddedProvider",
    "scripted": "hashiru.providers.scripted:ScriptedProvider",
}


def parse_ref(ref: str) -> tuple[str, str]:
    """Split `provider:model`; the model part may itself contain colons (`ollama:qwen3:8b`)."""
    provider, sep, model = ref.partition(":")
    if not sep or not model or provider not in BACKENDS:
        known = ", ".join(f"{name}:<model>" for name in BACKENDS)
        raise ConfigError(f"Model '{ref}' is not of the form provider:model ({known}).")
    return provider, model


class Providers:
    """One instance of each backend per runtime, created on first use."""

    def __init__(self, settings: Settings, extra: dict[str, Provider] | None = None) -> None:
        self.settings = settings
        self._instances: dict[str, Provider] = dict(extra or {})

    def get(self, name: str) -> Provider:
        if name not in self._instances:
            if name not in BACKENDS:
                raise ConfigError(f"Unknown provider '{name}' (known: {', '.join(BACKENDS)}).")
            module_name, class_name = BACKENDS[name].split(":")
            backend = getattr(importlib.import_module(module_name), class_name)
            self._instances[name] = backend(self.settings)
        return self._instances[name]

    def model(self, ref: str) -> ChatModel:
        provider, model = parse_ref(ref)
        return ChatModel(self.get(provider), model)
