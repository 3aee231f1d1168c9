"""Serve the real app on 127.0.0.1 with scripted models, and drive it from a real browser."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
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


UI_CODE = os.path.dirname(ui.__file__)
LoopIO = tuple[asyncio.AbstractEventLoop, str, str]
loop_io: list[LoopIO] = []
"""Files opened and SQLite databases connected by the UI's code on an event loop's thread."""


def _record_loop_io(event: str, args: tuple) -> None:
    """An audit hook (Python reports every open and sqlite3.connect to it); never raises."""
    if event not in ("open", "sqlite3.connect") or not isinstance(args[0], str | os.PathLike):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a worker thread (asyncio.to_thread, Gradio's sync handlers)
        return
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_filename.startswith(UI_CODE):
        frame = frame.f_back
    if frame is not None:  # a UI handler did it, not a run (a task of its own)
        loop_io.append((loop, event, os.fspath(args[0])))


sys.addaudithook(_record_loop_io)  # once per process: audit hooks cannot be removed


def call(tool: str, /, **arguments: object) -> dict:
    return {"name": tool, "arguments": arguments}


@dataclass
class Served:
    url: str
    hashiru: Hashiru
    app: ui.App


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """serve(scripts, port=None, auth=None, **settings): the app over a Hashiru whose CEO is
    `scripted:ceo`, on this test's HASHIRU_HOME (a second call on the same port, after
    `ui.shutdown` of the first, is the app restarted)."""
    started: list[Served] = []

    def start(
        scripts: dict[str, Script],
        port: int | None = None,
        auth: Sequence[str] | None = None,
        **settings: object,
    ) -> Served:
        config = Settings.load(ceo_model="scripted:ceo", **settings)
        hashiru = Hashiru.from_settings(config, [ScriptedProvider(scripts)])
        port = port or free_port()
        app = ui.launch(ui.build_app(hashiru), port=port, auth=auth)
        started.append(Served(f"http://127.0.0.1:{port}/", hashiru, app))
        return started[-1]

    refused_before = len(refused_connections)
    yield start
    blocking = [io for served in started for io in blocking_io(served)]
    for served in started:
        ui.shutdown(served.app)
    assert refused_connections[refused_before:] == [], "the app tried to reach the internet"
    assert blocking == [], "the app read or wrote its workspace on the event loop"


def blocking_io(served: Served) -> list[tuple[str, str]]:
    """What the app's event loop itself opened in the workspace's home: it should do none."""
    home = str(served.hashiru.settings.home)
    return [
        (event, path)
        for loop, event, path in loop_io
        if loop is served.app.loop and path.startswith(home)
    ]


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
