"""Print the CEO loop's own costs: overhead per step, parallel asks, prompt size per step, and
what tracing adds to a step: off, on (spans kept in memory), and exporting over OTLP/HTTP.

    python -m bench.perf [--steps 200] [--tracing off memory export]

Everything runs on scripted models in a temporary HASHIRU_HOME, so the figures measure
HASHIRU itself, not a model; the exporting run sends its spans to a collector of its own on
127.0.0.1. Uses only the public `hashiru` API, as a user would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hashiru import (
    EmbeddedProvider,
    Event,
    Hashiru,
    Script,
    ScriptedProvider,
    Settings,
    StepFinished,
    Workforce,
    ceo_system_prompt,
    count_embedded_tokens,
)

EMPLOYEE_SECONDS = 0.2
ORIGINAL_PROMPT_CHARS = 12_000 + 10_000  # the original's system prompt plus tool schemas
REPEATS = 3  # runs per figure; the loop figure is their median, the tracing ones pool them

OFF, MEMORY, EXPORT = "off", "memory", "export"
MODES = (OFF, MEMORY, EXPORT)
MODE_LABELS = {OFF: "off", MEMORY: "on, in memory", EXPORT: "exporting"}
# each mode's settings; `export` gets trace_export from OTEL_EXPORTER_OTLP_ENDPOINT, as a user does
MODE_SETTINGS: dict[str, dict[str, Any]] = {
    OFF: {"tracing": False, "trace_export": False},
    MEMORY: {"tracing": True, "trace_export": False},
    EXPORT: {"tracing": True},
}
ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"  # wins over ENDPOINT in the exporter
SDK = "opentelemetry.sdk"


def company(home: Path, scripts: dict[str, Script], **settings: Any) -> Hashiru:
    """A workspace of scripted models; tracing off unless `settings` say otherwise, so an
    OTEL_EXPORTER_OTLP_ENDPOINT in the environment does not change the figures."""
    config = Settings.load(home=home, ceo_model="scripted:ceo", **(settings or MODE_SETTINGS[OFF]))
    return Hashiru.from_settings(config, [ScriptedProvider(scripts)])


def call(tool: str, /, **arguments: object) -> dict:
    return {"name": tool, "arguments": arguments}


def cheap_steps(steps: int) -> Script:
    """A CEO that calls a cheap tool `steps - 1` times, then answers, on an instant model."""
    turns = [{"tool_calls": [call("list_agents")], "usage": {}}] * (steps - 1)
    return Script([*turns, {"text": "done", "usage": {}}])


async def loop_overhead(home: Path, steps: int) -> float:
    """Seconds per step of a CEO that calls a cheap tool `steps` times, on an instant model."""
    hashiru = company(home, {"ceo": cheap_steps(steps)})
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


class Collector:
    """A stand-in OTLP/HTTP collector on 127.0.0.1: takes POST /v1/traces, answers 200, and
    keeps each request's body (protobuf) to be read after the timing, not during it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.bodies))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(bodies: list[bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/traces":
                self.send_error(404, f"only /v1/traces is collected, not {self.path}")
                return
            bodies.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # a line per export would bury the table

    return Handler


@contextmanager
def exporting_to(url: str) -> Iterator[None]:
    """OTEL_EXPORTER_OTLP_ENDPOINT set to `url` (and no traces-only one to override it) while
    a workspace is built: its settings turn trace_export on and its exporter reads the URL."""
    saved = {name: os.environ.get(name) for name in (ENDPOINT, TRACES_ENDPOINT)}
    os.environ.pop(TRACES_ENDPOINT, None)
    os.environ[ENDPOINT] = url
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class TracedRun:
    """One run's figures: each step's seconds, the spans it kept, and its final flush."""

    step_seconds: list[float]
    spans: int
    flush_seconds: float | None


async def traced_run(
    home: Path, steps: int, mode: str, collector: Collector | None, memory: bool = False
) -> TracedRun:
    """A `steps`-step run in `mode`, timing each step from one StepFinished to the next (the
    tool calls of one step and the model turn of the next: a whole turn of the loop).
    `memory` adds the one recall before the first step (untimed), which loads Chroma."""
    if mode == EXPORT:
        if collector is None:
            raise ValueError("the export mode needs a Collector to send its spans to")
        with exporting_to(collector.url):
            hashiru = company(home, {"ceo": cheap_steps(steps)}, **MODE_SETTINGS[mode])
    else:
        hashiru = company(home, {"ceo": cheap_steps(steps)}, **MODE_SETTINGS[mode])
    _check_mode(hashiru, mode)
    stamps: list[float] = []

    def on_event(event: Event) -> None:
        if isinstance(event, StepFinished):
            stamps.append(time.perf_counter())

    policy = hashiru.policy.updated(max_steps=steps, enable_memory=memory)
    result = await hashiru.run("benchmark", policy=policy, on_event=on_event)
    assert result.steps == steps
    step_seconds = [later - earlier for earlier, later in pairwise(stamps)]
    if hashiru.tracing is None or result.trace_id is None:
        return TracedRun(step_seconds, spans=0, flush_seconds=None)
    spans = len(hashiru.tracing.spans(result.trace_id))
    started = time.perf_counter()
    hashiru.tracing.flush()
    flushed = time.perf_counter() - started
    hashiru.tracing.shutdown()  # stops the export thread, so it does not slow the next run
    return TracedRun(step_seconds, spans, flushed)


def _check_mode(hashiru: Hashiru, mode: str) -> None:
    """Refuse to print figures for a mode the workspace is not in."""
    settings = hashiru.settings
    actual = EXPORT if settings.trace_export else MEMORY if hashiru.tracing else OFF
    if actual != mode:
        raise RuntimeError(
            f"the {mode} run's workspace traced as {actual} (tracing={settings.tracing}, "
            f"trace_export={settings.trace_export}); check HASHIRU_TRACING and the "
            f"{ENDPOINT} handling in Settings.load"
        )


@dataclass
class ModeFigures:
    """One mode's figures, pooled over its runs."""

    mode: str
    step_seconds: list[float] = field(default_factory=list)
    spans: int = 0
    steps: int = 0
    flush_seconds: list[float] = field(default_factory=list)

    def add(self, run: TracedRun, steps: int) -> None:
        self.step_seconds += run.step_seconds
        self.spans += run.spans
        self.steps += steps
        if run.flush_seconds is not None:
            self.flush_seconds.append(run.flush_seconds)

    def p50(self) -> float:
        return statistics.median(self.step_seconds)

    def p95(self) -> float:
        return statistics.quantiles(self.step_seconds, n=20)[-1]


@dataclass
class TracingFigures:
    """Every mode's figures, whether tracing off imported the SDK, and what the collector got."""

    steps: int
    repeats: int
    modes: dict[str, ModeFigures]
    sdk_when_off: SdkLoaded | None  # None: the off mode was not measured
    exported: list[bytes] = field(default_factory=list)  # the collector's request bodies


async def measure_tracing(steps: int, repeats: int, modes: Sequence[str]) -> TracingFigures:
    """Each mode `repeats` times, interleaved so that a slow spell of the machine lands on
    every mode alike, with a collector on 127.0.0.1 when exporting."""
    figures = {mode: ModeFigures(mode) for mode in MODES if mode in modes}
    with Collector() as collector, tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            for mode, pooled in figures.items():
                home = Path(tmp) / f"{mode}{repeat}"
                pooled.add(await traced_run(home, steps, mode, collector), steps)
        exported = list(collector.bodies)
    off_imports = await asyncio.to_thread(sdk_loaded_when_off) if OFF in figures else None
    return TracingFigures(steps, repeats, figures, off_imports, exported)


@dataclass
class SdkLoaded:
    """Whether the OpenTelemetry SDK was loaded after a tracing-off run without memory (only
    HASHIRU's own code ran), and after one with memory (which loads Chroma, and what it does)."""

    without_memory: bool
    with_memory: bool


OFF_RUNS = """
import asyncio, json, sys, tempfile
from pathlib import Path
from bench.perf.__main__ import OFF, SDK, traced_run
loaded = []
with tempfile.TemporaryDirectory() as tmp:
    for memory in (False, True):
        asyncio.run(traced_run(Path(tmp) / str(memory), 3, OFF, None, memory))
        loaded.append(SDK in sys.modules)
print(json.dumps(loaded))
"""


def sdk_loaded_when_off() -> SdkLoaded:
    """Whether runs with tracing off load the OpenTelemetry SDK: asked of a fresh process,
    since this one loads it for the traced modes."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", OFF_RUNS],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the tracing-off run in a fresh process failed:\n{done.stderr}")
    without_memory, with_memory = json.loads(done.stdout.strip().splitlines()[-1])
    return SdkLoaded(without_memory, with_memory)


def tracing_table(figures: TracingFigures) -> Table:
    """Per-step overhead by mode, against tracing off."""
    table = Table(
        "tracing",
        "p50 ms",
        "p95 ms",
        "spans/step",
        "vs off, ms",
        "final flush",
        title="Overhead per step with tracing off, on (in-memory) and exporting",
        caption=_caption(figures),
    )
    off = figures.modes.get(OFF)
    for mode in figures.modes.values():
        table.add_row(
            MODE_LABELS[mode.mode],
            f"{mode.p50() * 1e3:.2f}",
            f"{mode.p95() * 1e3:.2f}",
            f"{mode.spans / mode.steps:.2f}",
            _versus(mode.p50(), off.p50()) if off and mode is not off else "",
            f"{statistics.median(mode.flush_seconds) * 1e3:.1f} ms" if mode.flush_seconds else "",
        )
    return table


def _versus(value: float, off: float) -> str:
    return f"{(value - off) * 1e3:+.2f} ({value / off - 1:+.0%})"


def _caption(figures: TracingFigures) -> str:
    lines = [f"{figures.steps} steps x {figures.repeats} runs a mode, scripted model"]
    if (loaded := figures.sdk_when_off) is not None:
        lines.append(
            f"OpenTelemetry SDK loaded with tracing off: {_yes(loaded.without_memory)}; "
            f"once memory loads Chroma: {_yes(loaded.with_memory)}"
        )
    if EXPORT in figures.modes:
        size = sum(len(body) for body in figures.exported) / 1024
        lines.append(
            f"exported over OTLP/HTTP to 127.0.0.1: "
            f"{len(figures.exported)} requests, {size:,.0f} KiB"
        )
    return "\n".join(lines)


def _yes(loaded: bool) -> str:
    return "yes" if loaded else "no"


async def measure(steps: int) -> Table:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        overhead = statistics.median(
            [await loop_overhead(root / f"o{i}", steps) for i in range(REPEATS)]
        )
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps in each overhead run")
    parser.add_argument(
        "--tracing",
        nargs="*",
        choices=MODES,
        default=list(MODES),
        metavar="MODE",
        help=f"tracing modes to measure, of {', '.join(MODES)} (default: all; none: skip)",
    )
    args = parser.parse_args(argv)
    if args.steps < 3:
        parser.error(f"--steps must be at least 3 (per-step percentiles), not {args.steps}")
    console = Console()
    console.print(asyncio.run(measure(args.steps)))
    if args.tracing:
        figures = asyncio.run(measure_tracing(args.steps, REPEATS, args.tracing))
        console.print(tracing_table(figures))


if __name__ == "__main__":
    main()
