"""Test isolation: a temporary HASHIRU_HOME, no provider keys, and no traffic beyond 127.0.0.1.

Two guards refuse other addresses: one on Python's sockets, and one on the HTTP client of `ddgs`
(web_search's default backend), whose Rust client (primp) opens sockets Python never sees.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

import pytest
from ddgs.http_client import HttpClient

_PROVIDER_ENV = (
    "OLLAMA_HOST",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "BRAVE_API_KEY",
)
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_real_connect = socket.socket.connect
refused_connections: list[object] = []
"""Every address the guard refused, so a test can catch a library that swallows the error."""


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
        refused_connections.append(address)
        raise ConnectionRefusedError(f"tests may only connect to 127.0.0.1, not {host!r}")
    return _real_connect(self, address)


_real_request = HttpClient.request


def _guarded_request(self: HttpClient, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
    host = urlparse(url).hostname
    if host not in _LOOPBACK:
        refused_connections.append(url)
        raise ConnectionRefusedError(f"tests may only connect to 127.0.0.1, not {url}")
    return _real_request(self, method, url, *args, **kwargs)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(HttpClient, "request", _guarded_request)
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("HASHIRU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HASHIRU_HOME", str(tmp_path / "home"))
    # Nothing listens here: a test that forgets to start its fake fails fast, offline.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
