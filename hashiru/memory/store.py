"""The memory store: short notes that outlive a run, found again by meaning.

One Chroma collection, "memories", in cosine space; similarity = 1 - cosine distance. A note with
the `key` of an earlier one replaces it; a note nearly the same as an earlier one (similarity at
least `memory_dedupe_similarity`) updates that one rather than piling up copies. Notes that look
like secrets are refused: memories sit unencrypted on disk and are shown to every model.

Importing this module is cheap (its types are what the agents need); Chroma and the embedding
model are imported when a store is opened.
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import re
import secrets
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, ValidationError, field_validator

from hashiru.errors import ConfigError, HashiruError
from hashiru.locks import exclusive
from hashiru.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    from chromadb.api.types import Documents, EmbeddingFunction

Kind = Literal["preference", "correction", "fact", "lesson"]
KINDS: tuple[str, ...] = get_args(Kind)
COLLECTION = "memories"


@dataclass(frozen=True, kw_only=True)
class MemoryConfig:
    """What the memory store is given: where memories live, how they are found and embedded."""

    path: Path  # Chroma's folder on disk, used when there is no chroma_url
    chroma_url: str | None  # a Chroma server
    top_k: int  # memories recalled per search
    min_similarity: float  # cosine; weaker matches are dropped
    dedupe_similarity: float  # a new memory this close to an old one updates it
    embedding: str  # minilm, chroma-default, hash, ollama:<model> or gemini:<model>
    ollama_host: str  # for ollama:<model>
    gemini_api_key: SecretStr | None  # for gemini:<model>
    gemini_base_url: str | None
    timeout: float  # seconds for one embedding request to a server

    @classmethod
    def from_settings(cls, settings: Settings) -> MemoryConfig:
        return cls(
            path=settings.home.expanduser() / "chroma",
            chroma_url=settings.memory_chroma_url,
            top_k=settings.memory_top_k,
            min_similarity=settings.memory_min_similarity,
            dedupe_similarity=settings.memory_dedupe_similarity,
            embedding=settings.memory_embedding,
            ollama_host=settings.ollama_host,
            gemini_api_key=settings.gemini_api_key,
            gemini_base_url=settings.gemini_base_url,
            timeout=settings.request_timeout,
        )

    @property
    def where(self) -> str:
        """Where the memories are, for messages."""
        return self.chroma_url or str(self.path)


class MemoryRefused(HashiruError):
    """A memory was not stored; the message says why (and never repeats a secret)."""


class MemoryNotFound(HashiruError):
    """No memory has the id given."""


class Memory(BaseModel):
    id: str
    text: str
    kind: Kind
    key: str | None = None
    source_run: str = ""
    source_agent: str = ""
    created_at: datetime  # when this text was written (an update rewrites it)
    last_used_at: datetime | None = None
    recalls: int = 0

    @field_validator("created_at", "last_used_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Recalled(BaseModel):
    memory: Memory
    similarity: float


class MemoryStore(Protocol):
    def add(
        self, text: str, kind: Kind, key: str | None = None, run_id: str = "", agent: str = ""
    ) -> Memory: ...
    def search(
        self, query: str, k: int | None = None, min_similarity: float | None = None
    ) -> list[Recalled]: ...
    def get(self, id: str) -> Memory: ...
    def delete(self, id: str) -> None: ...
    def list(self) -> list[Memory]: ...


# --- secrets -------------------------------------------------------------------------------

_SECRET_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("an Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{16,}")),
    ("an API key (sk-...)", re.compile(r"\bsk-(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{20,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a JSON web token", re.compile(r"\beyJ[\w\-]{8,}\.[\w\-]{8,}\.[\w\-]{8,}")),
    ("a password", re.compile(r"(?i)\b(?:password|passwd|passphrase|pwd)\s*[:=]\s*\S+")),
    (
        "a credential",
        re.compile(
            r"(?i)\b(?:api[_\- ]?key|secret[_\-]?key|client[_\-]?secret|access[_\-]?token"
            r"|auth[_\-]?token|bearer)\s*[:=]?\s*['\"]?[A-Za-z0-9_\-./+=]{12,}"
        ),
    ),
]
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{32,}")


def _looks_random(token: str) -> bool:
    """Long and high-entropy, with letters and digits mixed the way generated keys are.

    Tuned on samples: catches about 99% of random 32-character base62 and base64 keys, and
    passes CamelCase names, paths, hex digests (git and sha256) and UUIDs.
    """
    counts = collections.Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    alnum = [_char_class(c) for c in token if c.isalnum()]
    if entropy < 3.9 or len(set(alnum)) < 2 or len(alnum) < 2:
        return False
    changes = sum(a != b for a, b in itertools.pairwise(alnum))
    return changes / (len(alnum) - 1) >= 0.4


def _char_class(char: str) -> int:
    return 0 if char.islower() else 1 if char.isupper() else 2


def secret_reason(text: str) -> str | None:
    """What secret `text` seems to hold ("a GitHub token"), or None; never the secret itself."""
    for label, pattern in _SECRET_PATTERNS:
        if pattern.search(text):
            return label
    if any(_looks_random(token) for token in _TOKEN.findall(text)):
        return "a long random-looking token (a key or password?)"
    return None


# --- encoding for Chroma (metadata values are str, int, float or bool; never None) ---------


def _timestamp(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value else ""


def _metadata(memory: Memory) -> dict[str, str | int]:
    return {
        "kind": memory.kind,
        "key": memory.key or "",
        "source_run": memory.source_run,
        "source_agent": memory.source_agent,
        "created_at": _timestamp(memory.created_at),
        "last_used_at": _timestamp(memory.last_used_at),
        "recalls": memory.recalls,
    }


def _memory(id: str, text: str, meta: dict[str, Any]) -> Memory:
    return Memory(
        id=id,
        text=text,
        kind=meta["kind"],
        key=meta.get("key") or None,
        source_run=meta.get("source_run", ""),
        source_agent=meta.get("source_agent", ""),
        created_at=datetime.fromisoformat(meta["created_at"]),
        last_used_at=datetime.fromisoformat(meta["last_used_at"])
        if meta.get("last_used_at")
        else None,
        recalls=int(meta.get("recalls", 0)),
    )


def _memories(result: Any) -> list[Memory]:
    """Memories from a Chroma get() result (documents and metadatas included)."""
    return [
        _memory(id, text, meta)
        for id, text, meta in zip(
            result["ids"], result["documents"], result["metadatas"], strict=True
        )
    ]


def _now() -> datetime:
    return datetime.now(UTC)


def _client(config: MemoryConfig) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    url = config.chroma_url
    if not url:
        config.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(config.path), settings=chroma_settings)
    parts = urlsplit(url if "://" in url else f"http://{url}")
    ssl = parts.scheme == "https"
    try:
        return chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=chroma_settings,
        )
    except Exception as exc:
        raise ConfigError(
            f"Cannot reach the Chroma server at {url} (HASHIRU_MEMORY_CHROMA_URL): "
            f"{str(exc).rstrip('.')}. "
            "Start it (chroma run), or unset the setting to keep memories on disk."
        ) from None


class ChromaMemoryStore:
    """Memories in Chroma: on disk under HASHIRU_HOME/chroma, or on `memory_chroma_url`.

    `embedding` overrides the one the config names (tests use HashEmbedding).
    """

    def __init__(
        self, config: MemoryConfig, embedding: EmbeddingFunction[Documents] | None = None
    ) -> None:
        # Imported here, before the collection opens: it registers our embedding functions.
        from hashiru.memory.embedding import embedding_function

        self.config = config
        self.embedding = embedding if embedding is not None else embedding_function(config)
        # Chroma's first open of a folder creates its tables and our collection: of two processes
        # doing that at once, one fails ("table collections already exists"). They take turns.
        with nullcontext() if config.chroma_url else exclusive(config.path):
            self._client = _client(config)
            try:
                self._collection = self._client.get_or_create_collection(
                    COLLECTION,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=self.embedding,
                )
            except ValueError as exc:
                persisted = re.search(r"persisted: (\S+)", str(exc))
                if persisted is None:
                    raise
                raise self._mismatch(persisted.group(1)) from None
        self._check_embedding()
        self._lock = threading.RLock()

    # --- the MemoryStore protocol ----------------------------------------------------------

    def add(
        self, text: str, kind: Kind, key: str | None = None, run_id: str = "", agent: str = ""
    ) -> Memory:
        """Remember `text`; a note with the same key, or nearly the same text, is updated."""
        from hashiru.memory.embedding import encode_documents

        text = _checked(text, kind)
        key = (key or "").strip() or None
        vector = encode_documents(self.embedding, [text])[0]
        with self._lock:
            existing = self._by_key(key) if key else None
            if existing is None:
                existing = self._near_duplicate(vector, key)
            if existing is None:
                memory = Memory(
                    id=secrets.token_hex(8),
                    text=text,
                    kind=kind,
                    key=key,
                    source_run=run_id,
                    source_agent=agent,
                    created_at=_now(),
                )
                self._collection.add(
                    ids=[memory.id],
                    documents=[text],
                    embeddings=[vector],
                    metadatas=[_metadata(memory)],
                )
                return memory
            memory = existing.model_copy(
                update={
                    "text": text,
                    "kind": kind,
                    "key": key or existing.key,
                    "source_run": run_id or existing.source_run,
                    "source_agent": agent or existing.source_agent,
                    "created_at": _now(),
                }
            )
            self._collection.update(
                ids=[memory.id],
                documents=[text],
                embeddings=[vector],
                metadatas=[_metadata(memory)],
            )
            return memory

    def search(
        self, query: str, k: int | None = None, min_similarity: float | None = None
    ) -> list[Recalled]:
        """The `k` memories nearest `query` with at least `min_similarity`; marks them used."""
        from hashiru.memory.embedding import encode_queries

        k = k or self.config.top_k
        floor = self.config.min_similarity if min_similarity is None else min_similarity
        if not query.strip():
            return []
        vector = encode_queries(self.embedding, [query])[0]
        with self._lock:
            found = [r for r in self._nearest(vector, k) if r.similarity >= floor]
            if not found:
                return found
            now = _now()
            found = [
                Recalled(
                    memory=r.memory.model_copy(
                        update={"recalls": r.memory.recalls + 1, "last_used_at": now}
                    ),
                    similarity=r.similarity,
                )
                for r in found
            ]
            self._collection.update(
                ids=[r.memory.id for r in found], metadatas=[_metadata(r.memory) for r in found]
            )
        return found

    def get(self, id: str) -> Memory:
        result = self._collection.get(ids=[id], include=["documents", "metadatas"])
        if not result["ids"]:
            raise MemoryNotFound(
                f"No memory has the id {id!r}; `hashiru memory list` shows the ids."
            )
        return _memories(result)[0]

    def delete(self, id: str) -> None:
        with self._lock:
            self.get(id)
            self._collection.delete(ids=[id])

    def list(self, limit: int | None = None) -> list[Memory]:
        """Every memory, newest first (or the `limit` newest)."""
        memories = _memories(self._collection.get(include=["documents", "metadatas"]))
        memories.sort(key=lambda m: m.created_at, reverse=True)
        return memories[:limit] if limit is not None else memories

    def count(self) -> int:
        return self._collection.count()

    # --- backups ---------------------------------------------------------------------------

    def export_jsonl(self, path: Path | str) -> int:
        """Write every memory as one JSON line (newest first); returns how many."""
        memories = self.list()
        Path(path).write_text(
            "".join(m.model_dump_json() + "\n" for m in memories), encoding="utf-8"
        )
        return len(memories)

    def import_jsonl(self, path: Path | str) -> int:
        """Add or overwrite the memories in a JSONL backup, ids kept (importing twice is a no-op).

        Texts are embedded again, so a backup moves memories to another embedding function.
        Nothing is stored unless every line is a valid memory.
        """
        from hashiru.memory.embedding import encode_documents

        memories: dict[str, Memory] = {}
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                memory = Memory.model_validate(json.loads(line))
                _checked(memory.text, memory.kind)
            except (ValueError, ValidationError, MemoryRefused) as exc:
                reason = exc if isinstance(exc, MemoryRefused) else "not a memory"
                raise MemoryRefused(f"{path} line {number}: {reason}; nothing imported.") from None
            memories[memory.id] = memory
        batch = self._client.get_max_batch_size()
        chosen = list(memories.values())
        for start in range(0, len(chosen), batch):
            part = chosen[start : start + batch]
            vectors = encode_documents(self.embedding, [m.text for m in part])
            with self._lock:
                self._collection.upsert(
                    ids=[m.id for m in part],
                    documents=[m.text for m in part],
                    embeddings=list(vectors),
                    metadatas=[_metadata(m) for m in part],
                )
        return len(chosen)

    # --- helpers ---------------------------------------------------------------------------

    def _nearest(self, vector: np.ndarray, k: int) -> list[Recalled]:
        count = self._collection.count()
        if not count:
            return []
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=min(k, count),
            include=["documents", "metadatas", "distances"],
        )
        rows = zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
        return [
            Recalled(memory=_memory(id, text, meta), similarity=max(-1.0, min(1.0, 1 - distance)))
            for id, text, meta, distance in rows
        ]

    def _by_key(self, key: str) -> Memory | None:
        result = self._collection.get(where={"key": key}, include=["documents", "metadatas"])
        found = _memories(result)
        return max(found, key=lambda m: m.created_at) if found else None

    def _near_duplicate(self, vector: np.ndarray, key: str | None) -> Memory | None:
        """The nearest memory, if it is close enough to be the same note (and not keyed apart)."""
        nearest = self._nearest(vector, 1)
        if not nearest or nearest[0].similarity < self.config.dedupe_similarity:
            return None
        memory = nearest[0].memory
        return memory if key is None or memory.key in (None, key) else None

    def _check_embedding(self) -> None:
        """Refuse to mix vectors: the collection keeps the embedding function it was built with."""
        persisted = self._collection.configuration.get("embedding_function")
        if persisted is None:
            return
        if persisted.name() != self.embedding.name():
            raise self._mismatch(persisted.name())
        if persisted.get_config() != self.embedding.get_config():
            raise self._mismatch(f"{persisted.name()} {persisted.get_config()}")

    def _mismatch(self, persisted: str) -> ConfigError:
        asked = f"{self.embedding.name()} {self.embedding.get_config()}"
        return ConfigError(
            f"The memories in {self.config.where} were embedded with {persisted}, not {asked} "
            f"(HASHIRU_MEMORY_EMBEDDING is {self.config.embedding!r}). Set it back, or "
            "export the memories and import them into an empty store (a new HASHIRU_HOME or "
            "Chroma server), which embeds them again."
        )


def _checked(text: str, kind: str) -> str:
    text = text.strip()
    if not text:
        raise MemoryRefused("Nothing to remember: the text is empty.")
    if kind not in KINDS:
        raise MemoryRefused(f"Unknown memory kind {kind!r}: use one of {', '.join(KINDS)}.")
    if reason := secret_reason(text):
        raise MemoryRefused(
            f"Refused to remember this: it seems to contain {reason}. Memories are stored "
            "unencrypted and shown to models; keep secrets in settings or the environment, "
            "and remember only where they are kept."
        )
    return text
