"""Print the chat's latency: from sending a message to its first streamed word and to the answer.

    python -m bench.perf.ui [--runs 10]

The same scripted CEO (one tool step, then a 20-word answer streamed 10 ms a word) answers three
ways: in the browser (Debian's Chromium, headless, on the real Gradio app at 127.0.0.1, timed in
the page from the Enter key to the words on screen), through `hashiru run` as a subprocess (from
its start to the words on its stdout, and to its exit), and in process (`Hashiru.run`, to its
first TextDelta event and to its return). Each way runs once unmeasured to warm up; everything
runs in a temporary HASHIRU_HOME, with memory off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import (
    Hashiru,
    Script,
    ScriptedProvider,
    Settings,
    TextDelta,
    build_app,
    launch_app,
    shutdown_app,
)

TASK = "Please reply with the benchmark sentence."
FIRST, LAST = "Sunrise", "sunset."
ANSWER = " ".join([FIRST, *["and"] * 18, LAST])  # 20 words
TOKEN_DELAY = 0.01
TURNS = [
    {"tool_calls": [{"name": "list_agents", "arguments": {}}]},
    {"text": ANSWER, "token_delay": TOKEN_DELAY},
]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
# Times the page itself takes: the Enter key, then the first and the last word in the chat.
INSTRUMENT = """([first, last]) => {
    window.__times = {};
    const box = document.querySelector('#message textarea');
    box.addEventListener('keydown', event => {
        if (event.key === 'Enter' && window.__times.sent === undefined)
            window.__times.sent = performance.now();
    }, {capture: true});
    const chat = document.querySelector('#chat');
    new MutationObserver(() => {
        const times = window.__times, text = chat.textContent;
        if (times.sent === undefined) return;
        if (times.first === undefined && text.includes(first)) times.first = performance.now();
        if (times.last === undefined && text.includes(last)) times.last = performance.now();
    }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""

Sample = tuple[float, float]  # seconds to the first word, and to the answer


def workspace(home: Path, runs: int) -> Hashiru:
    config = Settings.load(home=home, ceo_model="scripted:ceo", enable_memory=False)
    scripts = {"ceo": Script(TURNS * (runs + 1))}
    return Hashiru.from_settings(config, [ScriptedProvider(scripts)])


async def in_process(home: Path, runs: int) -> list[Sample]:
    hashiru = workspace(home, runs)
    samples = []
    first: dict[str, float] = {}

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta):
            first.setdefault("at", time.perf_counter())

    try:
        for _ in range(runs + 1):
            first.clear()
            started = time.perf_counter()
            result = await hashiru.run(TASK, on_event=on_event)
            samples.append((first["at"] - started, time.perf_counter() - started))
            assert result.answer.strip() == ANSWER, result.answer
    finally:
        await hashiru.aclose()
    return samples[1:]


def through_cli(home: Path, runs: int) -> list[Sample]:
    script = home / "ceo.json"
    home.mkdir(parents=True, exist_ok=True)
    script.write_text(json.dumps(TURNS), encoding="utf-8")
    command = [hashiru_command(), "run", "--ceo", f"scripted:{script}", TASK]
    env = {
        **os.environ,
        "HASHIRU_HOME": str(home),
        "HASHIRU_ENABLE_MEMORY": "false",
        "PYTHONUNBUFFERED": "1",
    }
    samples = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        assert process.stdout is not None
        seen, first = b"", None
        while chunk := os.read(process.stdout.fileno(), 65536):
            seen += chunk
            if first is None and FIRST.encode() in seen:
                first = time.perf_counter()
        process.wait()
        done = time.perf_counter()
        assert process.returncode == 0 and first is not None, seen.decode(errors="replace")
        samples.append((first - started, done - started))
    return samples[1:]


def hashiru_command() -> str:
    """The `hashiru` script beside this Python (a virtual environment's), else on PATH."""
    beside = Path(sys.executable).with_name("hashiru")
    found = str(beside) if beside.exists() else shutil.which("hashiru")
    if found is None:
        raise SystemExit("`hashiru` is not installed: pip install -e .")
    return found


def in_browser(home: Path, runs: int) -> list[Sample]:
    from playwright.sync_api import expect, sync_playwright

    hashiru = workspace(home, runs)
    port = free_port()
    app = launch_app(build_app(hashiru), port=port)
    samples = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(15_000)
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.locator("#message textarea")
            expect(box).to_be_editable()
            page.evaluate(INSTRUMENT, [FIRST, LAST])
            for _ in range(runs + 1):
                page.evaluate("() => { window.__times = {}; }")
                box.fill(TASK)
                box.press("Enter")
                page.wait_for_function("() => window.__times.last !== undefined")
                expect(box).to_be_editable()  # the turn is over
                times = page.evaluate("() => window.__times")
                sent = times["sent"]
                samples.append(((times["first"] - sent) / 1e3, (times["last"] - sent) / 1e3))
                page.locator("#new-chat").click()
                expect(page.locator("#chat")).not_to_contain_text(LAST)
            browser.close()
    finally:
        shutdown_app(app)
    return samples[1:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(runs: int) -> tuple[Table, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {
            "Hashiru.run, in process": asyncio.run(in_process(root / "lib", runs)),
            "hashiru run, a new process": through_cli(root / "cli", runs),
        }
        if CHROMIUM.exists():
            results["browser: the Gradio app"] = in_browser(root / "ui", runs)
    table = Table(
        "path",
        "first word p50",
        "p95",
        "answer p50",
        "p95",
        title=f"HASHIRU chat latency: {runs} runs, scripted CEO (1 tool step, 20 words streamed)",
    )
    for path, samples in results.items():
        firsts, answers = [s[0] for s in samples], [s[1] for s in samples]
        table.add_row(
            path,
            *(f"{f(v) * 1e3:,.0f} ms" for v in (firsts, answers) for f in (median, p95)),
        )
    return table, verdict(results)


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return percentile(values, 95)


def verdict(results: dict[str, list[Sample]]) -> str:
    medians = {
        path: (median([s[0] for s in samples]), median([s[1] for s in samples]))
        for path, samples in results.items()
    }
    base_first, base_answer = medians["Hashiru.run, in process"]
    cli_first, cli_answer = medians["hashiru run, a new process"]
    said = (
        f"`hashiru run` shows the first word {(cli_first - base_first) * 1e3:,.0f} ms and ends "
        f"{(cli_answer - base_answer) * 1e3:,.0f} ms later than in process (a new Python)"
    )
    browser = medians.get("browser: the Gradio app")
    if browser is None:
        return f"{said}; no browser at {CHROMIUM}, so no UI figures."
    return (
        f"The UI adds {(browser[0] - base_first) * 1e3:,.0f} ms to the first word and "
        f"{(browser[1] - base_answer) * 1e3:,.0f} ms to the answer over in process; {said}."
    )


def main() -> None:
    warnings.filterwarnings("ignore", module=r"gradio\.")  # its pandas deprecations, not ours
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs of each path")
    args = parser.parse_args()
    table, said = measure(args.runs)
    console = Console()
    console.print(table)
    console.print(said)


if __name__ == "__main__":
    main()
