"""The embedding functions: the real MiniLM, the test hash, and Ollama and Gemini on fakes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from chromadb.utils.embedding_functions import (
    DefaultEmbeddingFunction,
    config_to_embedding_function,
)

from hashiru.errors import ConfigError, ProviderError, error_kind_for_status
from hashiru.memory import (
    ChromaMemoryStore,
    GeminiEmbedding,
    HashEmbedding,
    MemoryConfig,
    MiniLMEmbedding,
    OllamaEmbedding,
    embedding_function,
)
from hashiru.memory import embedding as embedding_module
from hashiru.settings import Settings
from tests.fakes.server import FakeServer, Recorded, Reply

TEXTS = [
    "the user prefers metric units",
    "a",
    "",
    "Deployments happen on Tuesdays after the standup, unless the release manager is away "
    "or the test suite is red, in which case they move to Wednesday morning.",
    "the office cat is called Miso " * 60,  # far beyond 256 tokens: truncated
    "Émigré café, naïve façade — ünïcödé and 中文 text",
]


def test_minilm_is_unit_length_and_independent_of_batching() -> None:
    alone = np.stack([MiniLMEmbedding(batch_size=1).encode([t])[0] for t in TEXTS])
    together = MiniLMEmbedding().encode(TEXTS)
    in_threes = MiniLMEmbedding(batch_size=3).encode(TEXTS)
    assert together.shape == (len(TEXTS), 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(in_threes, alone, atol=1e-5)
    # Chroma's protocol gives the same vectors, as a list of arrays.
    chroma = MiniLMEmbedding()(TEXTS)
    np.testing.assert_allclose(np.stack(chroma), together, atol=1e-6)


def test_minilm_is_semantic() -> None:
    query, *notes = MiniLMEmbedding().encode(
        ["which units should I use?", "the user prefers metric units", "the cat is called Miso"]
    )
    assert notes[0] @ query > 0.45 > notes[1] @ query


def test_minilm_config_is_portable_and_rebuilds() -> None:
    config = MiniLMEmbedding().get_config()
    assert "/" not in str(config)
    rebuilt = config_to_embedding_function({"name": "hashiru-minilm", "config": config})
    assert isinstance(rebuilt, MiniLMEmbedding)
    with pytest.raises(ValueError, match="only runs"):
        MiniLMEmbedding.build_from_config({"model": "something-else"})


def test_a_tampered_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding_module, "MINILM_SHA256", "0" * 64)
    monkeypatch.setattr(embedding_module, "_runner", None)
    with pytest.raises(ConfigError, match="sha256"):
        MiniLMEmbedding().encode(["hello"])


def test_hash_embedding_is_deterministic_and_unit() -> None:
    vectors = HashEmbedding().encode(["Tea, not coffee.", "tea not COFFEE", "", "x"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors[0], vectors[1])
    rebuilt = HashEmbedding.build_from_config(HashEmbedding(dims=32).get_config())
    assert rebuilt.encode(["x"]).shape == (1, 32)


def test_embedding_function_follows_the_setting() -> None:
    def choose(value: str) -> Any:
        return embedding_function(MemoryConfig.from_settings(Settings.load(memory_embedding=value)))

    assert isinstance(choose("minilm"), MiniLMEmbedding)
    assert isinstance(choose("chroma-default"), DefaultEmbeddingFunction)
    assert choose("ollama:nomic-embed-text").model == "nomic-embed-text"
    assert choose("gemini:gemini-embedding-001").model == "gemini-embedding-001"
    for bad in ("bert", "ollama:", "openai:text-embedding-3"):
        with pytest.raises(ConfigError, match="HASHIRU_MEMORY_EMBEDDING"):
            choose(bad)


class FakeEmbedder(FakeServer):
    """Ollama's /api/embed and Gemini's batchEmbedContents, with hash vectors of 8 dims."""

    def handle(self, request: Recorded) -> Reply:
        hasher = HashEmbedding(dims=8)
        if request.path == "/api/embed":
            if request.body["model"].startswith("status-"):  # status-429: that error
                return Reply(status=int(request.body["model"][7:]), body={"error": "planned"})
            if request.body["model"] != "nomic-embed-text":
                return Reply(status=404, body={"error": "model not found"})
            return Reply(body={"embeddings": hasher.encode(request.body["input"]).tolist()})
        if request.path.endswith(":batchEmbedContents"):
            if request.headers.get("x-goog-api-key") != "g-key":
                return Reply(status=403, body={"error": {"message": "API key not valid"}})
            texts = [r["content"]["parts"][0]["text"] for r in request.body["requests"]]
            vectors = (hasher.encode(texts) * 3).tolist()  # not unit: we normalise
            return Reply(body={"embeddings": [{"values": v} for v in vectors]})
        return Reply(status=404, body={"error": "no such path"})


def test_ollama_embedding_against_the_wire_format(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEmbedder() as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url.removeprefix("http://"))  # scheme optional
        settings = Settings.load(memory_embedding="ollama:nomic-embed-text")
        ollama = embedding_function(MemoryConfig.from_settings(settings))
        texts = [f"note {i}" for i in range(70)]  # two requests
        np.testing.assert_allclose(ollama.encode(texts), HashEmbedding(8).encode(texts), atol=1e-6)
        assert [len(c.body["input"]) for c in fake.calls("/api/embed")] == [64, 6]
        # Rebuilt by Chroma from its config, it finds the host in the settings.
        assert OllamaEmbedding.build_from_config(ollama.get_config()).encode(["x"]).shape == (1, 8)
        with pytest.raises(ProviderError, match="not found"):
            OllamaEmbedding("missing", host=fake.url).encode(["x"])
    with pytest.raises(ProviderError, match="connection"):
        OllamaEmbedding("nomic-embed-text", host="http://127.0.0.1:9", timeout=5).encode(["x"])


def test_embedding_errors_map_statuses_as_the_providers_do() -> None:
    with FakeEmbedder() as fake:
        for status in (400, 401, 403, 404, 408, 429, 500, 503):
            with pytest.raises(ProviderError) as caught:
                OllamaEmbedding(f"status-{status}", host=fake.url, timeout=5).encode(["x"])
            error = caught.value
            assert (error.kind, error.status) == (error_kind_for_status(status), status)
            assert error.provider == "ollama" and "planned" in str(error)


def test_gemini_embedding_against_the_wire_format(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEmbedder() as fake:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        settings = Settings.load(memory_embedding="gemini:gemini-embedding-001")
        with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
            embedding_function(MemoryConfig.from_settings(settings)).encode(["x"])
        monkeypatch.setenv("GEMINI_API_KEY", "g-key")
        gemini = GeminiEmbedding.build_from_config({"model": "gemini-embedding-001"})
        assert "key" not in str(gemini.get_config())
        vectors = gemini.encode(["a", "b"])
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
        gemini.encode_query(["a"])
        [document, query] = fake.calls(":batchEmbedContents")
        assert document.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
        assert document.body["requests"][0]["model"] == "models/gemini-embedding-001"
        assert document.body["requests"][0]["taskType"] == "RETRIEVAL_DOCUMENT"
        assert query.body["requests"][0]["taskType"] == "RETRIEVAL_QUERY"
        with pytest.raises(ProviderError, match="auth") as caught:
            GeminiEmbedding("gemini-embedding-001", "wrong", base_url=fake.url).encode(["a"])
        assert "wrong" not in str(caught.value)


def test_a_store_on_ollama_reopens_and_refuses_another_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeEmbedder() as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        settings = Settings.load(memory_embedding="ollama:nomic-embed-text")
        config = MemoryConfig.from_settings(settings)
        memory = ChromaMemoryStore(config).add("tea, not coffee", "preference")
        assert ChromaMemoryStore(config).search("tea")[0].memory.id == memory.id
        other = replace(config, embedding="ollama:mxbai-embed-large")
        with pytest.raises(ConfigError, match="nomic-embed-text"):
            ChromaMemoryStore(other)
