"""The memory store on a real Chroma on disk (the test's HASHIRU_HOME).

Most tests use HashEmbedding (instant, not semantic); the recall tests use the real MiniLM.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from hashiru.errors import ConfigError
from hashiru.memory import (
    ChromaMemoryStore,
    HashEmbedding,
    MemoryConfig,
    MemoryNotFound,
    MemoryRefused,
    MiniLMEmbedding,
    secret_reason,
)
from hashiru.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings.load()


@pytest.fixture
def config(settings: Settings) -> MemoryConfig:
    return MemoryConfig.from_settings(settings)


@pytest.fixture
def store(config: MemoryConfig) -> ChromaMemoryStore:
    return ChromaMemoryStore(config, HashEmbedding())


def test_the_config_is_the_memory_part_of_the_settings(tmp_path: Path) -> None:
    settings = Settings.load(
        home=tmp_path / "h",
        memory_top_k=7,
        memory_min_similarity=0.1,
        memory_dedupe_similarity=0.5,
        memory_embedding="gemini:gemini-embedding-001",
        ollama_host="http://127.0.0.1:5",
        gemini_api_key="g",
        gemini_base_url="http://127.0.0.1:6",
        request_timeout=9,
    )
    config = MemoryConfig.from_settings(settings)
    assert (config.path, config.chroma_url, config.where) == (
        tmp_path / "h" / "chroma",
        None,
        str(tmp_path / "h" / "chroma"),
    )
    assert (config.top_k, config.min_similarity, config.dedupe_similarity) == (7, 0.1, 0.5)
    assert (config.embedding, config.ollama_host, config.gemini_base_url, config.timeout) == (
        "gemini:gemini-embedding-001",
        "http://127.0.0.1:5",
        "http://127.0.0.1:6",
        9,
    )
    assert config.gemini_api_key is not None and config.gemini_api_key.get_secret_value() == "g"
    served = MemoryConfig.from_settings(
        settings.model_copy(update={"memory_chroma_url": "127.0.0.1:8000"})
    )
    assert served.where == "127.0.0.1:8000"


def test_importing_memory_types_loads_no_chroma() -> None:
    """The agents and the CLI import these; Chroma and ONNX load when a store is opened."""
    heavy = ["chromadb", "onnxruntime", "numpy", "hashiru.memory.embedding"]
    script = (
        "import sys, hashiru.memory, hashiru.memory.store;"
        "from hashiru.memory import ChromaMemoryStore, MemoryConfig, Memory, Recalled;"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_add_get_search_list_delete(store: ChromaMemoryStore) -> None:
    first = store.add("the user prefers metric units", "preference", run_id="r1", agent="ceo")
    second = store.add("the office cat is called Miso", "fact")
    assert (first.kind, first.key, first.source_run, first.source_agent) == (
        "preference",
        None,
        "r1",
        "ceo",
    )
    assert first.recalls == 0 and first.last_used_at is None
    assert store.get(first.id) == first

    [hit] = store.search("metric units", k=5)
    assert hit.memory.id == first.id and 0.35 <= hit.similarity <= 1.0
    assert hit.memory.recalls == 1 and hit.memory.last_used_at is not None
    assert store.get(first.id).recalls == 1, "a recall is recorded in the store"
    store.search("metric units")
    assert store.get(first.id).recalls == 2

    assert [m.id for m in store.list()] == [second.id, first.id], "newest first"
    store.delete(second.id)
    assert [m.id for m in store.list()] == [first.id]
    with pytest.raises(MemoryNotFound, match="nope"):
        store.delete("nope")
    with pytest.raises(MemoryNotFound):
        store.get(second.id)


def test_search_threshold_top_k_and_empty(store: ChromaMemoryStore) -> None:
    assert store.search("anything") == [], "an empty store answers nothing, without error"
    for i in range(8):
        store.add(f"note number {i} about gardening tomatoes", "fact")
    store.add("completely unrelated astronomy", "fact")
    found = store.search("gardening tomatoes", k=3)
    assert len(found) == 3
    assert [r.similarity for r in found] == sorted((r.similarity for r in found), reverse=True)
    assert all("tomatoes" in r.memory.text for r in found)
    assert store.search("quantum chromodynamics") == [], "below memory_min_similarity"
    assert len(store.search("quantum chromodynamics", k=20, min_similarity=-1)) == 9
    assert store.search("   ") == []


def test_near_duplicate_updates_instead_of_adding(store: ChromaMemoryStore) -> None:
    first = store.add("The user prefers metric units.", "preference", run_id="r1")
    again = store.add("the user prefers METRIC units", "correction", run_id="r2")
    assert again.id == first.id and store.count() == 1
    kept = store.get(first.id)
    assert (kept.text, kept.kind, kept.source_run) == (
        "the user prefers METRIC units",
        "correction",
        "r2",
    )
    assert kept.created_at > first.created_at
    store.add("the user prefers imperial units for cooking", "preference")
    assert store.count() == 2, "a different note is a new memory"


def test_same_key_replaces_text(store: ChromaMemoryStore) -> None:
    french = store.add("Answer in French.", "preference", key="language")
    german = store.add("Answer in German, always.", "preference", key="language")
    assert german.id == french.id and store.count() == 1
    assert store.get(french.id).text == "Answer in German, always."
    other = store.add("Answer in German, always.", "preference", key="tone")
    assert other.id != french.id, "a note keyed apart is not merged by similarity"


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
        "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
        "AIzaSyD3x4mPl3K3yF0rT3st1ngPurp0s3s0nly",
        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "AKIAIOSFODNN7EXAMPLE",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "password: hunter2xyz",
        "passwd=Tr0ub4dor&3",
        "Q7vK2mX9pL4wR8tZ3nB6yH1jF5sD0cGa",  # a bare random token, 32 characters
    ],
)
def test_secrets_are_refused_without_echo(store: ChromaMemoryStore, secret: str) -> None:
    with pytest.raises(MemoryRefused) as caught:
        store.add(f"the deploy credential is {secret} keep it", "fact")
    message = str(caught.value)
    assert "secret" in message.lower() or "key" in message.lower()
    for part in secret.split():
        assert part[-8:] not in message, "the secret is never repeated"
    assert store.count() == 0


@pytest.mark.parametrize(
    "text",
    [
        "The user prefers metric units and short answers.",
        "The model's sha256 is 8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        "Run id 550e8400-e29b-41d4-a716-446655440000 failed at step 3.",
        "Use AbstractSingletonProxyFactoryBean12 and XMLHttpRequestEventTargetPrototype.",
        "The code lives in /home/user/Projects/MyApp2024/src/Main and uses sk-learn.",
        "The password policy requires 12 characters.",
        "The API key is kept in the GEMINI_API_KEY environment variable.",
    ],
)
def test_ordinary_notes_are_not_taken_for_secrets(text: str) -> None:
    assert secret_reason(text) is None


def test_empty_text_and_unknown_kind_are_refused(store: ChromaMemoryStore) -> None:
    with pytest.raises(MemoryRefused, match="empty"):
        store.add("   ", "fact")
    with pytest.raises(MemoryRefused, match="preference, correction, fact, lesson"):
        store.add("something", "opinion")  # type: ignore[arg-type]


def test_export_import_round_trip(store: ChromaMemoryStore, settings: Settings, tmp_path) -> None:
    store.add("the user prefers metric units", "preference", key="units", run_id="r1")
    store.add("the office cat is called Miso", "fact", agent="ceo")
    store.search("office cat")
    backup = tmp_path / "memories.jsonl"
    assert store.export_jsonl(backup) == 2
    exported = store.list()
    assert [json.loads(line)["id"] for line in backup.read_text().splitlines()] == [
        m.id for m in exported
    ]

    fresh = ChromaMemoryStore(
        MemoryConfig.from_settings(settings.model_copy(update={"home": tmp_path / "other"})),
        HashEmbedding(),
    )
    assert fresh.import_jsonl(backup) == 2
    assert fresh.list() == exported, "ids, times, keys and recall counts survive"
    assert fresh.import_jsonl(backup) == 2 and fresh.count() == 2, "re-importing is idempotent"
    assert fresh.add("the user prefers metric units!", "preference").id == exported[1].id

    backup.write_text(backup.read_text() + '{"id": "x", "text": "password: abcdefgh"}\n')
    with pytest.raises(MemoryRefused, match="line 3"):
        fresh.import_jsonl(backup)


def test_reopens_after_restart_with_registered_embedding(
    settings: Settings, config: MemoryConfig
) -> None:
    memory = ChromaMemoryStore(config, HashEmbedding()).add("tea, not coffee", "preference")
    reopened = ChromaMemoryStore(config, HashEmbedding())
    assert reopened.get(memory.id).text == "tea, not coffee"
    assert reopened.search("coffee")[0].memory.id == memory.id
    # A plain Chroma client rebuilds our embedding function from the collection's config.
    client = chromadb.PersistentClient(
        path=str(settings.home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_collection("memories")
    assert isinstance(collection.configuration["embedding_function"], HashEmbedding)
    assert collection.configuration["hnsw"]["space"] == "cosine"
    assert collection.query(query_texts=["coffee"], n_results=1)["ids"] == [[memory.id]]


def test_another_embedding_function_is_refused_clearly(config: MemoryConfig) -> None:
    ChromaMemoryStore(config, HashEmbedding()).add("tea, not coffee", "preference")
    with pytest.raises(ConfigError, match=r"hashiru-hash.*HASHIRU_MEMORY_EMBEDDING"):
        ChromaMemoryStore(config, MiniLMEmbedding())
    with pytest.raises(ConfigError, match="dims"):
        ChromaMemoryStore(config, HashEmbedding(dims=64))


# --- the real embedding model ----------------------------------------------------------------

NOTES = [
    ("the user prefers metric units", "preference"),
    ("the office cat is called Miso", "fact"),
    ("deployments happen on Tuesdays after the standup", "fact"),
    ("when a web search fails, retry with fewer keywords", "lesson"),
]


def test_minilm_recalls_by_meaning_and_survives_restart(
    settings: Settings, config: MemoryConfig
) -> None:
    store = ChromaMemoryStore(config)  # the default: minilm
    ids = {text: store.add(text, kind).id for text, kind in NOTES}
    found = store.search("which units should I use?", min_similarity=-1)
    assert found[0].memory.id == ids["the user prefers metric units"]
    assert found[0].similarity >= settings.memory_min_similarity
    assert all(r.similarity < found[0].similarity - 0.2 for r in found[1:])
    assert [r.memory.text for r in store.search("which units should I use?")] == [
        "the user prefers metric units"
    ], "unrelated notes fall below memory_min_similarity"

    # A new process: importing hashiru.memory registers the function the collection names.
    script = textwrap.dedent(
        f"""
        from hashiru.memory import ChromaMemoryStore, MemoryConfig
        from hashiru.settings import Settings
        settings = Settings.load(home={str(settings.home)!r})
        store = ChromaMemoryStore(MemoryConfig.from_settings(settings))
        print(store.search("what measurement system does the user like?")[0].memory.id)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ids["the user prefers metric units"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on 127.0.0.1, storing under the test's tmp dir."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.skip("the chroma command is not installed")
    port = _free_port()
    command = [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "chroma run failed"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_chroma_server_is_used_when_configured(settings: Settings, chroma_server: str) -> None:
    remote = MemoryConfig.from_settings(
        settings.model_copy(update={"memory_chroma_url": chroma_server})
    )
    memory = ChromaMemoryStore(remote, HashEmbedding()).add("tea, not coffee", "preference")
    reopened = ChromaMemoryStore(remote, HashEmbedding())
    assert reopened.search("coffee")[0].memory.id == memory.id
    assert not (settings.home / "chroma").exists(), "nothing was written on disk here"
    with pytest.raises(ConfigError, match="HASHIRU_MEMORY_CHROMA_URL"):
        ChromaMemoryStore(replace(remote, chroma_url="127.0.0.1:9"))
