"""Fault 3: a command imports only what it uses, so the quick ones never pay for Chroma,
Gradio or a model SDK (seconds each on a busy machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import hashiru

HEAVY = ("chromadb", "onnxruntime", "gradio", "llama_cpp", "google.genai", "anthropic")

# Runs the command in this process, then writes what it imported to the file named first.
PROBE = """
import json, sys
from hashiru.cli import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    status = main(argv)
except SystemExit as exc:
    status = exc.code
with open(out, "w") as file:
    json.dump({"status": status, "modules": sorted(sys.modules)}, file)
"""


def imported(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    """The exit status of `hashiru ARGV` in a new interpreter, and every module it imported."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(out.read_text())
    return report["status"], set(report["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["--help"], 0),
        (["agents", "--json"], 0),
        (["budget"], 0),
        (["ledger"], 0),
        (["scorecard", "--json"], 0),
        (["fire", "nobody"], 1),
        (["tools"], 0),
        (["mcp", "list"], 0),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_quick_commands_import_no_heavy_module(tmp_path: Path, argv, status) -> None:
    exit_status, modules = imported(tmp_path, *argv)
    assert exit_status == status
    assert heavy(modules) == []
    # the probe saw the command run: it opened the workspace (all but --help, which must not)
    assert ("hashiru.runtime" in modules) == (argv != ["--help"])


def test_python_dash_m_hashiru_prints_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hashiru", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"hashiru {hashiru.__version__}"
