"""The registry builds each backend from its own part of the settings; what all backends share."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

import hashiru.providers
from hashiru.errors import ProviderError, error_kind_for_status
from hashiru.providers import BACKENDS, ModelInfo, Providers, discovery, provider_config
from hashiru.providers.anthropic import AnthropicProvider
from hashiru.providers.base import Provider, ProviderConfig
from hashiru.providers.discovery import default_ceo_model, survey
from hashiru.providers.gemini import GeminiProvider
from hashiru.providers.openai import OpenAIProvider
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.settings import Settings

ROOT = Path(__file__).parents[2]


def test_each_backend_gets_only_its_part_of_the_settings() -> None:
    settings = Settings.load(
        ollama_host="http://127.0.0.1:1234",
        gemini_api_key="g-key",
        gemini_base_url="http://127.0.0.1:2",
        anthropic_api_key="a-key",
        anthropic_base_url="http://127.0.0.1:3",
        openai_api_key="o-key",
        openai_base_url="http://127.0.0.1:4/v1",
        request_timeout=7,
        retries=1,
        max_tokens=99,
        ollama_num_ctx=16_384,
        models={
            "ollama:qwen3:8b": {"context_tokens": 4096},
            "gemini:gemini-2.5-flash": {"context_tokens": 32_768},
            "gemini:gemini-2.5-pro": {},  # says nothing of its window
        },
    )
    providers = Providers(settings)
    shared = {"timeout": 7, "retries": 1, "max_tokens": 99}
    expected = {
        "ollama": ProviderConfig(
            base_url="http://127.0.0.1:1234",
            num_ctx=16_384,
            context_tokens={"qwen3:8b": 4096},
            **shared,
        ),
        "gemini": ProviderConfig(
            api_key=SecretStr("g-key"),
            base_url="http://127.0.0.1:2",
            default_model=settings.gemini_default_model,
            context_tokens={"gemini-2.5-flash": 32_768},
            **shared,
        ),
        "anthropic": ProviderConfig(
            api_key=SecretStr("a-key"),
            base_url="http://127.0.0.1:3",
            default_model=settings.anthropic_default_model,
            **shared,
        ),
        "openai": ProviderConfig(
            api_key=SecretStr("o-key"),
            base_url="http://127.0.0.1:4/v1",
            default_model=settings.openai_default_model,
            **shared,
        ),
        "embedded": ProviderConfig(**shared),
        "scripted": ProviderConfig(**shared),
    }
    assert set(expected) == set(BACKENDS)
    for name, config in expected.items():
        provider = providers.get(name)
        assert provider.config == providers.config(name) == config, name
        assert not any(isinstance(value, Settings) for value in vars(provider).values()), name


def test_a_ready_made_backend_keeps_its_own_config() -> None:
    mine = ProviderConfig(retries=0, max_tokens=32)
    scripted = ScriptedProvider({"ceo": Script([{"text": "hi"}])}, config=mine)
    providers = Providers(Settings.load(retries=5), {"scripted": scripted})
    assert providers.get("scripted") is scripted
    assert providers.config("scripted") is mine
    assert providers.model("scripted:ceo").provider.config.retries == 0


def test_config_defaults_are_the_settings_defaults() -> None:
    assert ProviderConfig() == provider_config(Settings(), "scripted")
    assert ScriptedProvider().config == ProviderConfig()


@pytest.mark.parametrize(
    ("backend", "variables"),
    [
        (GeminiProvider, "GEMINI_API_KEY or GOOGLE_API_KEY"),
        (AnthropicProvider, "ANTHROPIC_API_KEY"),
        (OpenAIProvider, "OPENAI_API_KEY"),
    ],
)
def test_the_key_check_names_the_variable_to_set(backend: type[Provider], variables: str) -> None:
    for missing in (None, SecretStr("")):
        provider = backend(ProviderConfig(api_key=missing))
        assert provider.unavailable_reason() == f"set {variables}"
        with pytest.raises(ProviderError) as caught:
            provider.api_key()
        assert (caught.value.provider, caught.value.kind) == (backend.name, "auth")
        assert variables in str(caught.value)
    keyed = backend(ProviderConfig(api_key=SecretStr("k")))
    assert keyed.unavailable_reason() is None and keyed.api_key() == "k"


def test_backends_without_keys_need_none() -> None:
    assert Providers(Settings.load()).get("ollama").unavailable_reason() is None


async def test_the_default_ceo_comes_from_a_key_without_a_request() -> None:
    gemini = Providers(Settings.load(gemini_api_key="g", anthropic_api_key="a"))
    assert await default_ceo_model(gemini) == "gemini:gemini-2.5-flash"
    anthropic = Providers(Settings.load(anthropic_api_key="a", anthropic_default_model="c-1"))
    assert await default_ceo_model(anthropic) == "anthropic:c-1"
    openai = Providers(Settings.load(openai_api_key="o"))
    assert await default_ceo_model(openai) == "openai:gpt-4.1-mini"


class Talkative(ScriptedProvider):
    """Lists its models in a few round trips, as a server-backed backend does."""

    async def list_models(self) -> list[ModelInfo]:
        for _ in range(3):
            await asyncio.sleep(0)
        return await super().list_models()


async def test_a_slow_import_does_not_time_out_the_other_backends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backends = {
        "scripted": BACKENDS["scripted"],
        "slow": "tests.providers.slow_import:SlowProvider",
    }
    monkeypatch.setattr(hashiru.providers, "BACKENDS", backends)
    monkeypatch.delitem(sys.modules, "tests.providers.slow_import", raising=False)
    monkeypatch.setattr(discovery, "SURVEY_TIMEOUT_SECONDS", 0.25)  # half the slow import
    scripted = Talkative({"m": Script([{"text": "hi"}])})
    statuses = await survey(Providers(Settings.load(), {"scripted": scripted}))
    assert [(s.name, s.available, s.reason) for s in statuses] == [
        ("scripted", True, ""),
        ("slow", False, "a test and demo backend: give a script file as scripted:<path.json>"),
    ]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "bad_request"),
        (401, "auth"),
        (403, "auth"),
        (404, "not_found"),
        (408, "timeout"),
        (409, "bad_request"),
        (422, "bad_request"),
        (429, "rate_limit"),
        (500, "server"),
        (503, "server"),
        (529, "server"),
    ],
)
def test_http_statuses_map_to_one_set_of_kinds(status: int, kind: str) -> None:
    assert error_kind_for_status(status) == kind
    error = ProviderError.for_status("ollama", status, "")
    assert (error.provider, error.kind, error.status) == ("ollama", kind, status)
    assert str(error).endswith("no detail given")


def test_importing_the_providers_loads_no_sdk() -> None:
    """`hashiru --help` and friends import these; the SDKs load when a backend is used."""
    heavy = [
        "chromadb",
        "onnxruntime",
        "google.genai",
        "anthropic",
        "llama_cpp",
        "ollama",
        "openai",
    ]
    script = (
        "import sys, hashiru.providers, hashiru.providers.discovery, hashiru.providers.base;"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
