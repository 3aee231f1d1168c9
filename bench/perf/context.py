"""Print what context keeping does to a long run: tokens per step, in all, and what it costs.

    python -m bench.perf.context [--steps 200] [--window 8192]

A scripted CEO reads a 1,200-word file at every step of a 200-step run, once with its model's
window set to `--window` (so the context is compacted) and once with a window too large to
reach (nothing is compacted, as before context keeping). The tokens are counted on what each
request carried. Public API only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import (
    ContextCompacted,
    Event,
    Hashiru,
    Message,
    ModelResponse,
    ProviderConfig,
    Script,
    ScriptedProvider,
    Settings,
    TokenCounter,
    ToolCall,
    ToolSpec,
)

UNREACHABLE = 10**9
FILE = " ".join(f"word{n}" for n in range(1_200))


class Recorder:
    """A model that counts the tokens of every request, and answers by `reply(n)`."""

    def __init__(self, steps: int | None) -> None:
        self.steps = steps  # None: a summary writer
        self.tokens: list[int] = []
        self.counter = TokenCounter()

    def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        self.tokens.append(self.counter.raw(messages, tools))
        n = len(self.tokens)
        if self.steps is None:
            return ModelResponse(text="The CEO read big.txt again; its words are word0..word1199.")
        if n >= self.steps:
            return ModelResponse(text="Read it every time.")
        return ModelResponse(
            tool_calls=[ToolCall(id=f"c{n}", name="read_file", arguments={"path": "big.txt"})]
        )


async def session(home: Path, steps: int, window: int) -> tuple[Recorder, Recorder, float, int]:
    """One run; the CEO's and the writer's recorders, its seconds and its compactions."""
    ceo, writer = Recorder(steps), Recorder(None)
    scripts = {"ceo": Script([ceo], repeat=True), "writer": Script([writer], repeat=True)}
    config = ProviderConfig(context_tokens={"ceo": window})
    settings = Settings.load(
        home=home,
        ceo_model="scripted:ceo",
        compaction_model="scripted:writer",
        enable_memory=False,
        max_steps=steps,
        workspace=home / "files",
    )
    (home / "files").mkdir(parents=True)
    (home / "files" / "big.txt").write_text(FILE)
    hashiru = Hashiru.from_settings(settings, [ScriptedProvider(scripts, config)])
    events: list[Event] = []
    started = time.perf_counter()
    await hashiru.run("Read big.txt at every step.", on_event=events.append)
    seconds = time.perf_counter() - started
    await hashiru.aclose()
    compactions = sum(isinstance(e, ContextCompacted) for e in events)
    return ceo, writer, seconds, compactions


def measure(steps: int, window: int) -> Table:
    with tempfile.TemporaryDirectory() as tmp:
        kept, writer, kept_s, compactions = asyncio.run(session(Path(tmp) / "a", steps, window))
        grown, _, grown_s, _ = asyncio.run(session(Path(tmp) / "b", steps, UNREACHABLE))
    table = Table("measure", "kept in the window", "not kept", title=f"{steps}-step run")
    marks = sorted({1, 10, 50, 100, steps // 2, steps - 1, steps} & set(range(1, steps + 1)))
    for step in marks:
        table.add_row(
            f"input tokens at step {step}",
            f"{kept.tokens[step - 1]:,}",
            f"{grown.tokens[step - 1]:,}",
        )
    table.add_row("largest request", f"{max(kept.tokens):,}", f"{max(grown.tokens):,}")
    table.add_row("tokens sent in all (CEO)", f"{sum(kept.tokens):,}", f"{sum(grown.tokens):,}")
    table.add_row("run's wall time", f"{kept_s:.1f} s", f"{grown_s:.1f} s")
    table.add_row(
        "compactions (events) / summaries written", f"{compactions} / {len(writer.tokens)}", "0"
    )
    if writer.tokens:
        table.add_row(
            "a summary's request, median tokens",
            f"{statistics.median(writer.tokens):,.0f}",
            "",
        )
    table.caption = f"window {window:,} tokens, compaction at 80% of it; a step reads 1,200 words"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--window", type=int, default=8192)
    args = parser.parse_args()
    Console().print(measure(args.steps, args.window))


if __name__ == "__main__":
    main()
