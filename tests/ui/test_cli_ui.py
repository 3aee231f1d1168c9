"""`hashiru ui` serves the app on loopback, warns about other addresses, and asks for a login."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from hashiru.ui import is_loopback
from tests.ui.conftest import free_port

DESKTOP = ("DISPLAY", "WAYLAND_DISPLAY")


@contextmanager
def hashiru_ui(
    tmp_path: Path, *flags: str, desktop: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`hashiru ui FLAGS` on a headless machine, or with `desktop`'s variables (DISPLAY...)."""
    script = tmp_path / "ceo.json"
    script.write_text(json.dumps([{"text": "391"}] * 3))
    env = {k: v for k, v in os.environ.items() if k not in DESKTOP}
    env |= {"HASHIRU_CEO_MODEL": f"scripted:{script}", "HASHIRU_ENABLE_MEMORY": "0"}
    env |= desktop or {}
    process = subprocess.Popen(
        [sys.executable, "-m", "hashiru.cli", "ui", *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_ui_serves_on_loopback_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    with hashiru_ui(tmp_path, "--port", str(port)) as (process, first_line):
        assert f"http://127.0.0.1:{port}/" in first_line
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "HASHIRU" in page.text
        response, _ = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            message={"text": "What is 17 * 23?", "files": []}, api_name="/chat"
        )
        assert response == "391"
        started = time.monotonic()
    assert process.returncode in (0, 130)
    assert time.monotonic() - started < 30
    assert "Traceback" not in process.stderr.read()


def test_ui_asks_for_the_login_given_with_auth(tmp_path):
    port = free_port()
    with hashiru_ui(tmp_path, "--port", str(port), "--auth", "ada:lovelace") as (_, line):
        assert "http://127.0.0.1" in line
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(Exception):  # noqa: B017 - gradio_client's error for a refused login
            Client(url, verbose=False)
        response, _ = Client(url, auth=("ada", "lovelace"), verbose=False).predict(
            message={"text": "hi", "files": []}, api_name="/chat"
        )
        assert response == "391"


def test_a_bad_auth_value_is_one_clear_line():
    result = subprocess.run(
        [sys.executable, "-m", "hashiru.cli", "ui", "--auth", "nopassword"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--auth takes USER:PASS" in result.stderr
    assert "Traceback" not in result.stderr


def test_serving_beyond_loopback_without_auth_warns(tmp_path):
    with hashiru_ui(tmp_path, "--host", "0.0.0.0", "--port", str(free_port())) as (process, _):
        pass
    assert "without --auth" in process.stderr.read()


def browser_recorder(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A $BROWSER that writes down the address it was asked to open (what webbrowser runs)."""
    opened = tmp_path / "opened.txt"
    recorder = tmp_path / "browser.sh"
    recorder.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    recorder.chmod(0o755)
    return {"BROWSER": str(recorder)}, opened


def wait_for_file(path: Path, seconds: float = 15) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    return path.read_text()


def test_ui_opens_the_page_in_the_browser_where_there_is_a_desktop(tmp_path):
    browser, opened = browser_recorder(tmp_path)
    port = free_port()
    with hashiru_ui(tmp_path, "--port", str(port), desktop={**browser, "DISPLAY": ":0"}):
        assert wait_for_file(opened) == f"http://127.0.0.1:{port}/\n"


def test_ui_opens_no_browser_on_a_headless_machine(tmp_path):
    browser, opened = browser_recorder(tmp_path)
    port = free_port()
    with hashiru_ui(tmp_path, "--port", str(port), desktop=browser):
        Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            message={"text": "hi", "files": []}, api_name="/chat"
        )  # the server is well past the point where it would have opened one
        time.sleep(1)
    assert not opened.exists()


def test_no_browser_opens_none_even_on_a_desktop(tmp_path):
    browser, opened = browser_recorder(tmp_path)
    port = free_port()
    desktop = {**browser, "WAYLAND_DISPLAY": "wayland-0"}
    with hashiru_ui(tmp_path, "--port", str(port), "--no-browser", desktop=desktop):
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        time.sleep(1)
    assert not opened.exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
