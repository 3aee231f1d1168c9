"""The conversation benchmark still runs (on a small store), so its figures can be trusted."""

from __future__ import annotations

from rich.console import Console

from bench.perf.conversations import measure


def test_the_conversation_benchmark_prints_every_figure() -> None:
    console = Console(width=200, record=True)
    console.print(measure(conversations=20, turns=10))
    text = console.export_text()
    for figure in ("first page of 20", "open a conversation of 10 turns", "per turn"):
        assert figure in text
    assert "ms" in text.split("open a conversation")[1]
