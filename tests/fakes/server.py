"""The scaffolding every protocol-faithful fake provider shares.

A fake is a real HTTP server on 127.0.0.1 (threaded, so concurrent client calls overlap) that
records each request and answers model calls from per-model queues of `FakeTurn`s. Subclasses
only translate a FakeTurn into their provider's wire format and route their paths.
`max_in_flight` is the most requests it was serving at once: a test of concurrency checks it,
since right totals alone do not show that the calls overlapped.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeTurn:
    """One planned model reply: text and/or tool calls, token counts, latency, or an error."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    cached_tokens: int = 0
    delay: float = 0.0
    status: int | None = None  # an HTTP error status instead of a reply
    error_message: str = "fake failure"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    started: float
    finished: float = 0.0


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, sent whole
    chunks: Iterable[bytes] | None = None  # streamed instead, flushed one by one
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Start with `with Fake() as fake:`; `fake.url` is its base URL."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.turns: dict[str, deque[FakeTurn]] = defaultdict(deque)
        self.in_flight = 0  # requests received and not yet answered
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll keeps shutdown() quick: each test starts and stops its own fake.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def plan(self, model: str, *turns: FakeTurn) -> None:
        """Queue replies for `model`, served in order."""
        with self._lock:
            self.turns[model].extend(turns)

    def next_turn(self, model: str) -> FakeTurn:
        """Take `model`'s next planned turn, after waiting its `delay` (simulated latency)."""
        with self._lock:
            queue = self.turns.get(model)
            if not queue:
                raise LookupError(f"no planned turn for model {model!r}")
            turn = queue.popleft()
        time.sleep(turn.delay)
        return turn

    @contextmanager
    def _serving(self, request: Recorded) -> Iterator[None]:
        """Record `request` and count it in flight until the block ends."""
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def calls(self, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if path_part in r.path]

    def handle(self, request: Recorded) -> Reply:  # pragma: no cover - overridden
        raise NotImplementedError


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 256  # tests open a hundred connections at once; 5 makes SYNs retry

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out and hung up is expected in tests; anything else is shown."""
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            super().handle_error(request, client_address)


def sse(events: Iterable[tuple[str | None, Any]]) -> Iterable[bytes]:
    """Server-sent events: `(event name or None, JSON data)` pairs."""
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        yield f"{head}data: {json.dumps(data)}\n\n".encode()


def ndjson(objects: Iterable[Any]) -> Iterable[bytes]:
    for obj in objects:
        yield (json.dumps(obj) + "\n").encode()


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # small header and body writes, sent without delay

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parsed = urlparse(self.path)
            recorded = Recorded(
                method=self.command,
                path=parsed.path,
                query=parse_qs(parsed.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=json.loads(raw) if raw else None,
                started=time.monotonic(),
            )
            with fake._serving(recorded):
                try:
                    reply = fake.handle(recorded)
                except LookupError as exc:
                    reply = Reply(status=500, body={"error": str(exc)})
                self._send(reply)
                recorded.finished = time.monotonic()

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.chunks is None:
                payload = json.dumps(reply.body).encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in reply.chunks:
                self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_DELETE = _serve

    return Handler
