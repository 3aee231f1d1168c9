"""Print the CEO loop's own costs: overhead per step, parallel asks, and prompt size per step.

    python -m bench.perf [--steps 200]

Everything runs on scripted models in a temporary HASHIRU_HOME, so the figures measure
HASHIRU itself, not a model. Uses only the public `hashiru` API, as a user would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import (
    EmbeddedProvider,
    Hashiru,
    Script,
    ScriptedProvider,
    Settings,
    Workforce,
    ceo_system_prompt,
    count_embedded_tokens,
)

EMPLOYEE_SECONDS = 0.2
ORIGINAL_PROMPT_CHARS = 12_000 + 10_000  # the original's system prompt plus tool schemas


def company(home: Path, scripts: dict[str, Script]) -> Hashiru:
    config = Settings.load(home=home, ceo_model="scripted:ceo")
    return Hashiru.from_settings(config, [ScriptedProvider(scripts)])


def call(tool: str, /, **arguments: object) -> dict:
    return {"name": tool, "arguments": arguments}


async def loop_overhead(home: Path, steps: int) -> float:
    """Seconds per step of a CEO that calls a cheap tool `steps` times, on an instant model."""
    turns = [{"tool_calls": [call("list_agents")], "usage": {}}] * (steps - 1)
    ceo = Script([*turns, {"text": "done", "usage": {}}])
    hashiru = company(home, {"ceo": ceo})
    policy = hashiru.policy.updated(max_steps=steps)
    started = time.perf_counter()
    result = await hashiru.run("benchmark", policy=policy)
    assert result.steps == steps
    return (time.perf_counter() - started) / steps


async def asks(home: Path, parallel: bool) -> float:
    """Wall seconds for four asks of employees that each take EMPLOYEE_SECONDS."""
    names = ["a", "b", "c", "d"]
    hires = [
        call("hire_agent", name=n, model=f"scripted:{n}", system_prompt="s", description="d")
        for n in names
    ]
    ask = [call("ask_agent", name=n, prompt="work") for n in names]
    steps = [{"tool_calls": ask}] if parallel else [{"tool_calls": [a]} for a in ask]
    ceo = Script([{"tool_calls": hires}, *steps, {"text": "done"}])
    employees = {n: Script([{"text": "ok", "delay": EMPLOYEE_SECONDS}]) for n in names}
    hashiru = company(home, {"ceo": ceo, **employees})
    started = time.perf_counter()
    result = await hashiru.run("benchmark")
    elapsed = time.perf_counter() - started
    hiring = sum(c.seconds for c in result.tool_calls if c.name == "hire_agent")
    return elapsed - hiring


def prompt_size(home: Path) -> tuple[int, int, int | None]:
    """Characters of the system prompt and of the tool schemas sent on every step, and tokens."""
    hashiru = company(home, {})
    tools = hashiru.tools(hashiru.meter("benchmark"), Workforce(), lambda event: None)
    schemas = json.dumps([t.spec.model_dump() for t in tools], separators=(",", ":"))
    prompt = ceo_system_prompt()
    return len(prompt), len(schemas), count_tokens(prompt + schemas)


def count_tokens(text: str) -> int | None:
    """Tokens by the embedded model's tokenizer, when it is installed."""
    if EmbeddedProvider().unavailable_reason():
        return None
    return count_embedded_tokens(text)


async def measure(steps: int) -> Table:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        overhead = statistics.median([await loop_overhead(root / f"o{i}", steps) for i in range(3)])
        parallel = await asks(root / "p", parallel=True)
        serial = await asks(root / "s", parallel=False)
        prompt_chars, schema_chars, tokens = prompt_size(root / "z")
    table = Table("measure", "value", title="HASHIRU loop performance")
    table.add_row("loop overhead per step (scripted model)", f"{overhead * 1e3:.2f} ms")
    table.add_row(
        f"4 asks of {EMPLOYEE_SECONDS * 1e3:.0f} ms employees, one step", f"{parallel:.3f} s"
    )
    table.add_row("the same 4 asks one after another", f"{serial:.3f} s")
    table.add_row("speed-up from parallel asks", f"{serial / parallel:.1f}x")
    table.add_row("CEO system prompt per step", f"{prompt_chars:,} chars")
    table.add_row("tool schemas per step", f"{schema_chars:,} chars")
    total = prompt_chars + schema_chars
    table.add_row(
        "prompt + schemas per step",
        f"{total:,} chars ({total / ORIGINAL_PROMPT_CHARS:.0%} of the original's ~22,000)",
    )
    table.add_row("  in SmolLM2 tokens", f"{tokens:,}" if tokens else "n/a (no embedded model)")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps in the overhead run")
    args = parser.parse_args()
    Console().print(asyncio.run(measure(args.steps)))


if __name__ == "__main__":
    main()
