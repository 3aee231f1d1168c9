"""Each model's context window: what the backends report, the settings that override it, and
the num_ctx every Ollama request carries (with the KV cache it costs in memory)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from hashiru.agents.events import ToolCallFinished
from hashiru.cli import main
from hashiru.messages import Message
from hashiru.providers import ChatModel, Providers
from hashiru.providers.ollama import OllamaProvider, kv_cache_bytes
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import hire
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import FakeTurn, Recorded, Reply

GIB = 2**30
MODEL = "qwen3:0.6b"
HI = [Message.system("Be brief."), Message.user("hi")]
# A shape whose f16 KV cache is exactly 1 GiB at 8,192 tokens: 2 x (128 + 128) x 8 x 32 x 8192.
SHAPE = {
    "block_count": 32,
    "attention.head_count_kv": 8,
    "attention.key_length": 128,
    "attention.value_length": 128,
}


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as running:
        yield running


def ollama(fake: FakeOllama, **settings: object) -> OllamaProvider:
    provider = Providers(Settings.load(ollama_host=fake.url, retries=0, **settings)).get("ollama")
    assert isinstance(provider, OllamaProvider)
    return provider


def num_ctx_sent(fake: FakeOllama) -> list[int]:
    return [r.body["options"]["num_ctx"] for r in fake.calls("/api/chat")]


@pytest.mark.parametrize(
    ("context_length", "setting", "cap", "window"),
    [
        pytest.param(131_072, None, 8192, 8192, id="capped-by-num-ctx"),
        pytest.param(2048, None, 8192, 2048, id="the-model-is-smaller"),
        pytest.param(131_072, 4096, 8192, 4096, id="a-setting-narrows-it"),
        pytest.param(2048, 32_768, 8192, 8192, id="a-setting-widens-it-up-to-the-cap"),
    ],
)
async def test_ollama_window_is_the_num_ctx_every_request_carries(
    fake: FakeOllama, context_length: int, setting: int | None, cap: int, window: int
) -> None:
    fake.context_length = context_length
    models = {f"ollama:{MODEL}": {"context_tokens": setting}} if setting else {}
    provider = ollama(fake, ollama_num_ctx=cap, models=models)
    fake.plan_forever(MODEL, lambda n: FakeTurn(text=f"reply {n}"))
    first, second = ChatModel(provider, MODEL), ChatModel(provider, MODEL)  # two employees

    await first.complete(HI)
    fake.context_length = 1024  # what /api/show says later changes nothing: no reload
    await asyncio.gather(second.complete(HI), *(first.complete(HI) for _ in range(3)))
    [*_, final] = [item async for item in second.stream(HI)]

    assert final.text == "reply 5"
    assert num_ctx_sent(fake) == [window] * 6
    assert (await first.describe()).context_tokens == window
    assert [p.limit for p in fake.prompts] == [window] * 6
    assert len(fake.calls("/api/show")) == 2, "one show before the chats, one for describe"


async def test_a_setting_names_an_ollama_model_with_or_without_its_tag(fake: FakeOllama) -> None:
    provider = ollama(fake, models={"ollama:llama3.2": {"context_tokens": 2048}})

    listed = {m.ref: m.context_tokens for m in await provider.list_models()}

    assert listed == {"ollama:llama3.2:latest": 2048, "ollama:qwen3:0.6b": 8192}
    assert (await provider.describe("llama3.2")).context_tokens == 2048


class ShowlessOllama(FakeOllama):
    """An Ollama-compatible server that answers chats but fails /api/show."""

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/api/show":
            return Reply(status=500, body={"error": "show is not supported here"})
        return super().handle(request)


async def test_without_api_show_requests_carry_the_cap() -> None:
    with ShowlessOllama() as fake:
        provider = ollama(fake, ollama_num_ctx=6144)
        fake.plan(MODEL, FakeTurn(text="a"), FakeTurn(text="b"))

        await provider.complete(MODEL, HI, [], 64)
        await provider.complete(MODEL, HI, [], 64)

        assert num_ctx_sent(fake) == [6144, 6144]
        assert len(fake.calls("/api/show")) == 1, "a failed show is not asked again"


def test_kv_cache_bytes_from_the_models_shape() -> None:
    info = {"general.architecture": "llama", **{f"llama.{k}": v for k, v in SHAPE.items()}}
    # Without key/value lengths a head is embedding_length / head_count wide.
    wide = {
        "general.architecture": "qwen3",
        "qwen3.block_count": 28,
        "qwen3.embedding_length": 1024,
        "qwen3.attention.head_count": 16,
        "qwen3.attention.head_count_kv": 8,
    }
    per_layer = {"general.architecture": "g", "g.block_count": 3, "g.attention.key_length": 4}

    assert kv_cache_bytes(info, 8192) == GIB
    assert kv_cache_bytes(info, 2048) == GIB // 4
    assert kv_cache_bytes(wide, 1000) == 2 * (64 + 64) * 8 * 28 * 1000
    assert kv_cache_bytes({**per_layer, "g.attention.head_count_kv": [1, 2, 3]}, 10) == (
        2 * (4 + 4) * 6 * 10
    )
    assert kv_cache_bytes({"general.architecture": "llama", "llama.block_count": 32}, 8192) is None
    assert kv_cache_bytes({}, 8192) is None


async def test_describe_counts_the_kv_cache_of_its_num_ctx(fake: FakeOllama) -> None:
    fake.models = {MODEL: GIB}
    fake.architecture = SHAPE

    described = await ollama(fake, ollama_num_ctx=8192).describe(MODEL)
    [listed] = await ollama(fake, ollama_num_ctx=2048).list_models()

    assert (described.context_tokens, described.memory_bytes) == (8192, 2 * GIB)
    assert (listed.context_tokens, listed.memory_bytes) == (2048, GIB + GIB // 4)


@pytest.mark.parametrize(
    ("num_ctx", "hired_gib"),
    [
        pytest.param(8192, None, id="refused-for-its-kv-cache"),
        pytest.param(2048, "1.25", id="fits"),
    ],
)
async def test_a_hire_pays_for_the_kv_cache_in_the_resource_budget(
    fake: FakeOllama, num_ctx: int, hired_gib: str | None
) -> None:
    fake.models = {MODEL: GIB}
    fake.architecture = SHAPE
    ceo = [{"tool_calls": [hire("local", f"ollama:{MODEL}")]}, {"text": "done"}]
    settings = Settings.load(
        ceo_model="scripted:ceo",
        ollama_host=fake.url,
        ollama_num_ctx=num_ctx,
        memory_gib=Decimal("1.5"),
        retries=0,
    )
    hashiru = Hashiru.from_settings(settings, [ScriptedProvider({"ceo": Script(ceo)})])
    events: list = []

    await hashiru.run("x", on_event=events.append)

    [finished] = [e for e in events if isinstance(e, ToolCallFinished)]
    if hired_gib is None:
        assert not finished.ok and "GiB" in str(finished.error)
        assert hashiru.ledger.state().memory_used_bytes == 0
    else:
        assert json.loads(finished.content)["memory_gib"] == hired_gib
        assert hashiru.ledger.state().memory_used_bytes == GIB + GIB // 4


async def test_cloud_windows_a_setting_overrides() -> None:
    with (
        FakeGemini() as gemini,
        FakeAnthropic(models={"claude-sonnet-4-6": 200_000, "claude-haiku-4-5": None}) as claude,
    ):
        settings = Settings.load(
            gemini_api_key="k",
            gemini_base_url=gemini.url,
            anthropic_api_key="k",
            anthropic_base_url=claude.url,
            models={
                "gemini:gemini-2.5-pro": {"context_tokens": 32_768},
                "anthropic:claude-haiku-4-5": {"context_tokens": 50_000},
            },
        )
        providers = Providers(settings)
        windows = {
            m.ref: m.context_tokens
            for name in ("gemini", "anthropic")
            for m in await providers.get(name).list_models()
        }
        described = await providers.model("gemini:gemini-2.5-pro").describe()

    assert windows == {
        "gemini:gemini-2.5-flash": 1_048_576,  # what the backend reports
        "gemini:gemini-2.5-pro": 32_768,  # the setting wins
        "anthropic:claude-sonnet-4-6": 200_000,
        "anthropic:claude-haiku-4-5": 50_000,  # the backend says nothing; the setting does
    }
    assert described.context_tokens == 32_768


async def test_the_embedded_window_is_never_wider_than_its_n_ctx() -> None:
    wide = Settings.load(models={"embedded:smollm2-135m": {"context_tokens": 1_000_000}})
    narrow = Settings.load(models={"embedded:smollm2-135m": {"context_tokens": 2048}})
    provider = Providers(wide).get("embedded")
    if reason := provider.unavailable_reason():
        pytest.skip(reason)

    assert (await provider.describe("smollm2-135m")).context_tokens == 8192
    assert (await Providers(narrow).get("embedded").describe("smollm2-135m")).context_tokens == 2048


def test_doctor_shows_each_models_window(fake: FakeOllama, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    monkeypatch.setenv("HASHIRU_OLLAMA_NUM_CTX", "4096")

    assert main(["doctor"]) == 0
    shown = capsys.readouterr().out.replace("\n", " ")
    assert "ollama:llama3.2:latest (4,096)" in shown and "ollama:qwen3:0.6b (4,096)" in shown

    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [backend] = [b for b in report["backends"] if b["name"] == "ollama"]
    assert [m["context_tokens"] for m in backend["models"]] == [4096, 4096]
