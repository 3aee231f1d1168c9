"""How much faster is a replayed run than the run it was recorded from?

    python -m bench.perf.replay [--steps 20] [--latency 0.25] [--repeat 3]

A scripted CEO takes `--steps` steps, each a call of `get_budget` and `list_agents` whose model
reply takes `--latency` seconds (what a cloud model's turn takes, give or take), then answers.
The run is recorded into a cassette, then replayed in a fresh workspace with no backend at all:
every reply comes from the cassette, so what is left is HASHIRU's own work (the loop, the tools,
the ledger). Both answers are checked to be the same, and the replay's dollars to be zero.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import Cassette, Hashiru, RunResult, Script, ScriptedProvider, Settings, new_cassette

TASK = "Check the budget, step after step."


def script(steps: int, latency: float) -> list[dict]:
    calls = [{"name": "get_budget", "arguments": {}}, {"name": "list_agents", "arguments": {}}]
    turns = [{"tool_calls": calls, "delay": latency} for _ in range(steps - 1)]
    return [*turns, {"text": f"Done in {steps} steps.", "delay": latency}]


def settings(home: Path, steps: int) -> Settings:
    return Settings.load(
        {}, home=home, ceo_model="scripted:ceo", enable_memory=False, max_steps=steps + 1
    )


async def timed(hashiru: Hashiru) -> tuple[float, RunResult]:
    """The task run once on `hashiru` (closed after), and its wall seconds."""
    try:
        started = time.perf_counter()
        result = await hashiru.run(TASK)
        return time.perf_counter() - started, result
    finally:
        await hashiru.aclose()


async def record(home: Path, steps: int, latency: float) -> tuple[float, str, Cassette]:
    config = settings(home, steps)
    cassette = new_cassette(config)
    provider = ScriptedProvider({"ceo": Script(script(steps, latency))})
    seconds, result = await timed(Hashiru.from_settings(config, [provider], cassette=cassette))
    cassette.settings["ceo_model"] = result.ceo_model
    return seconds, result.answer, cassette


async def replay(home: Path, steps: int, cassette: Cassette) -> tuple[float, str, float]:
    played = Hashiru.from_settings(settings(home, steps), cassette=cassette, replay="only")
    seconds, result = await timed(played)
    return seconds, result.answer, float(result.cost.expense_usd)


async def measure(steps: int, latency: float, repeat: int) -> tuple[list[float], list[float]]:
    originals, replays = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            seconds, answer, cassette = await record(Path(folder, "a"), steps, latency)
            path = Path(folder, "run.json")
            cassette.save(path)
            again, replayed, dollars = await replay(Path(folder, "b"), steps, Cassette.load(path))
        if replayed != answer or dollars:
            raise SystemExit(f"the replay differs: {replayed!r} for {answer!r}, ${dollars}")
        originals.append(seconds)
        replays.append(again)
    return originals, replays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.25, help="seconds per model reply")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    originals, replays = asyncio.run(measure(args.steps, args.latency, args.repeat))
    table = Table(title=f"A {args.steps}-step run, {args.latency:g} s per model reply")
    table.add_column("run")
    table.add_column("median s", justify="right")
    table.add_column("per step ms", justify="right")
    for name, times in (("recorded", originals), ("replayed", replays)):
        median = statistics.median(times)
        table.add_row(name, f"{median:.2f}", f"{median / args.steps * 1000:.1f}")
    Console().print(table)
    ratio = statistics.median(originals) / statistics.median(replays)
    Console().print(f"The replay gives the same answer at $0, {ratio:.0f}x faster.")


if __name__ == "__main__":
    main()
