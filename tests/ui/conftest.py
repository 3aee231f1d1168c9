"""Serve the real app on 127.0.0.1 with scripted models, and drive it from a real browser."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hashiru import ui
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import make_hashiru  # noqa: F401 - the fixture, for these tests too
from tests.conftest import refused_connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORIGINAL_MODES = [
    "ENABLE_AGENT_CREATION",
    "ENABLE_LOCAL_AGENTS",
    "ENABLE_CLOUD_AGENTS",
    "ENABLE_TOOL_CREATION",
    "ENABLE_TOOL_INVOCATION",
    "ENABLE_RESOURCE_BUDGET",
    "ENABLE_ECONOMY_BUDGET",
    "ENABLE_MEMORY",
]
"""The original HASHIRUBench's mode names, as its scripts send them to /update_model."""
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def call(tool: str, /, **arguments: object) -> dict:
    return {"name": tool, "arguments": arguments}


@dataclass
class Served:
    url: str
    hashiru: Hashiru
    blocks: object


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """serve(scripts, **settings): the app over a Hashiru whose CEO is `scripted:ceo`."""
    started: list[Served] = []

    def start(scripts: dict[str, Script], **settings: object) -> Served:
        config = Settings.load(ceo_model="scripted:ceo", **settings)
        hashiru = Hashiru.from_settings(config, [ScriptedProvider(config, scripts)])
        port = free_port()
        blocks = ui.launch(ui.build_app(hashiru), port=port)
        started.append(Served(f"http://127.0.0.1:{port}/", hashiru, blocks))
        return started[-1]

    refused_before = len(refused_connections)
    yield start
    for served in started:
        ui.shutdown(served.blocks)
    assert refused_connections[refused_before:] == [], "the app tried to reach the internet"


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    if not CHROMIUM.exists():
        if os.environ.get("HASHIRU_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (CI keeps them): test-artifacts/ at the repository root."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
