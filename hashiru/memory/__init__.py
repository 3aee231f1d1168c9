"""Long-term memory: what the user prefers and corrected, and what the company learned.

`MemoryStore` is the interface the agents use; `ChromaMemoryStore` keeps memories in Chroma under
HASHIRU_HOME (or on a Chroma server), embedded on this machine by default (all-MiniLM-L6-v2,
int8 ONNX). Importing this package registers our embedding functions with Chroma, so a
collection written earlier reopens with the function that embedded it.
"""

from __future__ import annotations

import os

# Chroma reads this when it is first imported: no usage reports leave the machine.
os.environ["ANONYMIZED_TELEMETRY"] = "False"

from hashiru.memory.embedding import (
    GeminiEmbedding,
    HashEmbedding,
    MiniLMEmbedding,
    OllamaEmbedding,
    embedding_function,
)
from hashiru.memory.store import (
    ChromaMemoryStore,
    Kind,
    Memory,
    MemoryNotFound,
    MemoryRefused,
    MemoryStore,
    Recalled,
    secret_reason,
)

__all__ = [
    "ChromaMemoryStore",
    "GeminiEmbedding",
    "HashEmbedding",
    "Kind",
    "Memory",
    "MemoryNotFound",
    "MemoryRefused",
    "MemoryStore",
    "MiniLMEmbedding",
    "OllamaEmbedding",
    "Recalled",
    "embedding_function",
    "secret_reason",
]
