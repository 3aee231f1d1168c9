"""Long-term memory: what the user prefers and corrected, and what the company learned.

`MemoryStore` is the interface the agents use; `ChromaMemoryStore` keeps memories in Chroma under
HASHIRU_HOME (or on a Chroma server), embedded on this machine by default (all-MiniLM-L6-v2,
int8 ONNX). Importing this package is cheap: Chroma loads when a store is opened or an embedding
function is first used from here, and that registers our embedding functions with Chroma, so a
collection written earlier reopens with the function that embedded it.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Chroma reads this when it is first imported: no usage reports leave the machine.
os.environ["ANONYMIZED_TELEMETRY"] = "False"

from hashiru.memory.store import (
    ChromaMemoryStore,
    Kind,
    Memory,
    MemoryConfig,
    MemoryNotFound,
    MemoryRefused,
    MemoryStore,
    Recalled,
    secret_reason,
)

if TYPE_CHECKING:
    from hashiru.memory.embedding import (
        GeminiEmbedding,
        HashEmbedding,
        MiniLMEmbedding,
        OllamaEmbedding,
        embedding_function,
    )

_FROM_EMBEDDING = frozenset(
    {"GeminiEmbedding", "HashEmbedding", "MiniLMEmbedding", "OllamaEmbedding", "embedding_function"}
)


def __getattr__(name: str) -> Any:
    """The embedding names, imported (with Chroma) on first use."""
    if name in _FROM_EMBEDDING:
        return getattr(importlib.import_module("hashiru.memory.embedding"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChromaMemoryStore",
    "GeminiEmbedding",
    "HashEmbedding",
    "Kind",
    "Memory",
    "MemoryConfig",
    "MemoryNotFound",
    "MemoryRefused",
    "MemoryStore",
    "MiniLMEmbedding",
    "OllamaEmbedding",
    "Recalled",
    "embedding_function",
    "secret_reason",
]
