"""The runs README.md shows a newcomer, on the real embedded model (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hashiru.providers.embedded import EmbeddedProvider

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        EmbeddedProvider().unavailable_reason() is not None,
        reason="needs pip install 'hashiru[local]'",
    ),
]


def hashiru(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a person types it, in the test's HASHIRU_HOME."""
    command = [str(Path(sys.executable).with_name("hashiru")), *args]
    return subprocess.run(
        command, cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=300
    )


def test_main_job_answers_on_the_embedded_model() -> None:
    done = hashiru("run", "What is 17 * 23?", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ceo_model"] == "embedded:smollm2-135m"
    assert result["answer"].strip()
    assert result["usage"]["input_tokens"] > 100


def test_scripted_ceo_hires_a_real_embedded_employee() -> None:
    script = "scripted:examples/ceo-hires-embedded.json"
    done = hashiru("run", "Write a haiku about the sea.", "--ceo", script, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [a["model"] for a in result["agents"]] == ["embedded:smollm2-135m"]
    assert [(c["name"], c["ok"]) for c in result["tool_calls"]] == [
        ("hire_agent", True),
        ("ask_agent", True),
        ("fire_agent", True),
    ]
    assert result["usage_by_agent"]["poet"]["output_tokens"] > 0
