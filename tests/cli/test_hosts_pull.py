"""A model downloaded for a hire, as the terminal shows it: the question (a terminal is asked,
`--yes` approves, anything else refuses), then a progress bar on stderr that ends when the pull
does or when the run moves on. Against a fake Ollama host on 127.0.0.1 that serves /api/pull."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashiru import display
from hashiru.agents.events import ModelPulling, ToolCallFinished
from hashiru.cli import main
from hashiru.cli.run import EventPrinter
from tests.cli.terminal import on_a_terminal, read_until
from tests.cli.test_endpoints import write_toml
from tests.fakes.ollama import FakeOllama

LAYERS = [1_930_000_000, 12_000, 6_000, 485]  # weights, template, license, params: llama-like
MODEL = "ollama:phi4-mini"
HIRE = {
    "name": "hire_agent",
    "arguments": {"name": "coder", "model": MODEL, "system_prompt": "s", "description": "d"},
}


def plain(shown: str) -> str:
    """What a terminal shows, less its colours and cursor moves."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)


def pulling(status: str, completed: int = 0, total: int = 0, done: bool = False) -> ModelPulling:
    return ModelPulling(
        model=MODEL,
        host="http://gpu-b:11434",
        status=status,
        completed=completed,
        total=total,
        done=done,
    )


def test_a_pull_reads_the_same_everywhere() -> None:
    start = display.pull_view(pulling("pulling manifest"))
    assert start.line == f"Downloading {MODEL} to http://gpu-b:11434: 0% · pulling manifest"
    half = display.pull_view(pulling("pulling 1a2b3c4d5e6f", 966_000_000, 1_932_000_000))
    assert (half.percent, half.amount) == (50, "0.90 of 1.80 GiB")
    assert half.detail == "50% · 0.90 of 1.80 GiB · pulling 1a2b3c4d5e6f"
    checking = display.pull_view(pulling("verifying sha256 digest", 1_932_000_000, 1_932_000_000))
    assert checking.percent == 99, "not 100% until Ollama says it succeeded"
    done = display.pull_view(pulling("success", 1_932_000_000, 1_932_000_000, done=True))
    assert done.line == f"Downloaded {MODEL} to http://gpu-b:11434: 100% · 1.80 of 1.80 GiB"
    assert [display.bar(p, 10) for p in (0, 50, 100)] == ["░" * 10, "█████░░░░░", "█" * 10]


def test_the_bar_ends_with_the_pull_or_with_the_next_event(capsys) -> None:
    printer = EventPrinter()
    printer(pulling("pulling manifest"))
    printer(pulling("pulling 1a2b3c4d5e6f", 483_000_000, 1_932_000_000))
    printer(ToolCallFinished(**HIRE, call_id="1", ok=False, error="too big", seconds=1))
    out, err = capsys.readouterr()
    title, bar = err.splitlines()  # one title, and the bar left as it last was
    assert title == f"⬇ Downloading {MODEL} to http://gpu-b:11434"
    assert bar.startswith(f"  {MODEL} ━")
    assert bar.endswith(" 25% · 0.45 of 1.80 GiB · pulling 1a2b3c4d5e6f")
    assert "✗ hire_agent" in out and "too big" in out

    printer(pulling("pulling manifest"))
    printer(pulling("success", 1_932_000_000, 1_932_000_000, done=True))
    printer(ToolCallFinished(**HIRE, call_id="2", ok=True, result={}, seconds=1))
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"  {MODEL} {'━' * 20} 100% · 1.80 of 1.80 GiB"


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOllama]:
    """One Ollama host with nothing installed that can download phi4-mini, and a CEO that
    hires on it."""
    monkeypatch.setenv("HASHIRU_ENABLE_MEMORY", "false")  # recall would load a model: seconds
    monkeypatch.setenv("COLUMNS", "200")
    with FakeOllama() as fake:
        fake.models = {}
        fake.registry = {"phi4-mini": LAYERS}
        write_toml(f'retries = 0\nollama_hosts = [{{ url = "{fake.url}", memory_gib = 4 }}]\n')
        yield fake


@pytest.fixture
def ceo(tmp_path: Path) -> str:
    script = tmp_path / "ceo.json"
    script.write_text(json.dumps([{"tool_calls": [HIRE]}, {"text": "The coder is hired."}]))
    return f"scripted:{script}"


def test_run_yes_downloads_with_a_bar_then_hires(host: FakeOllama, ceo: str, capsys) -> None:
    assert main(["run", "Hire a coder.", "--ceo", ceo, "--yes"]) == 0
    out, err = capsys.readouterr()
    assert "✓ hire_agent" in out and "The coder is hired." in out
    lines = err.splitlines()
    assert lines[0] == f"⬇ Downloading {MODEL} to {host.url}"
    assert lines[-1] == f"  {MODEL} {'━' * 20} 100% · 1.80 of 1.80 GiB"
    assert len(host.calls("/api/pull")) == 1


def test_run_with_nobody_to_ask_downloads_nothing(host: FakeOllama, ceo: str, capsys) -> None:
    assert main(["run", "Hire a coder.", "--ceo", ceo]) == 0  # stdin is not a terminal here
    out, err = capsys.readouterr()
    assert "✗ hire_agent" in out and "not approved" in out
    assert "⬇" not in err and host.calls("/api/pull") == []


def test_a_terminal_is_asked_before_the_download(host: FakeOllama, ceo: str) -> None:
    with on_a_terminal(["run", "Hire a coder.", "--ceo", ceo], {"COLUMNS": "200"}) as (
        process,
        main_fd,
    ):
        asked = plain(read_until(main_fd, f"Download {MODEL} to {host.url}?"))
        assert f"The CEO wants to download {MODEL} to {host.url}." in asked
        assert host.calls("/api/pull") == [], "nothing is downloaded before the answer"
        os.write(main_fd, b"y\n")
        shown = plain(read_until(main_fd, "The coder is hired."))
        assert f"⬇ Downloading {MODEL} to {host.url}" in shown
        assert "100% · 1.80 of 1.80 GiB" in shown
        assert process.wait(timeout=60) == 0
    assert len(host.calls("/api/pull")) == 1
