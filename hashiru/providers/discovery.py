"""What can be used right now: each backend's availability, its models, and the default CEO."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from hashiru.errors import HashiruError
from hashiru.providers import ModelInfo, Providers

SURVEY_TIMEOUT_SECONDS = 5.0


class BackendStatus(BaseModel):
    name: str
    local: bool
    available: bool
    reason: str = ""
    models: list[ModelInfo] = Field(default_factory=list)


async def check_backend(providers: Providers, name: str) -> BackendStatus:
    provider = providers.get(name)
    status = BackendStatus(name=name, local=provider.local, available=False)
    if reason := provider.unavailable_reason():
        status.reason = reason
        return status
    try:
        async with asyncio.timeout(SURVEY_TIMEOUT_SECONDS):
            status.models = await provider.list_models()
    except (HashiruError, TimeoutError) as exc:
        status.reason = str(exc) or "timed out listing models"
        return status
    status.available = bool(status.models)
    status.reason = "" if status.models else "no models installed"
    return status


async def survey(providers: Providers) -> list[BackendStatus]:
    """Check every backend at once; a slow or down one costs at most a few seconds.

    The backends (their SDKs) are imported first, in a thread: an import takes seconds on a
    busy machine, which must neither block the event loop nor run down the other backends'
    timeouts.
    """
    await asyncio.to_thread(lambda: [providers.get(name) for name in providers.names])
    return list(await asyncio.gather(*(check_backend(providers, n) for n in providers.names)))


async def default_ceo_model(providers: Providers) -> str | None:
    """The first of: a Gemini, an Anthropic or an OpenAI key, an Ollama server with a model,
    embedded.

    Keys are trusted without a network call; a bad key is reported on the first request.
    """
    for name in ("gemini", "anthropic", "openai"):
        config = providers.config(name)
        if config.api_key and config.default_model:
            return f"{name}:{config.default_model}"
    ollama = await check_backend(providers, "ollama")
    if ollama.available:
        return ollama.models[0].ref
    embedded = providers.get("embedded")
    if embedded.unavailable_reason() is None:
        return f"embedded:{embedded.default_model}"
    return None
