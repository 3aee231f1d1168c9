"""The scaffolding every protocol-faithful fake provider shares.

A fake is a real HTTP server on 127.0.0.1 (threaded, so concurrent client calls overlap) that
records each request and answers model calls from per-model queues of `FakeTurn`s. Subclasses
only translate a FakeTurn into their provider's wire format and route their paths.
`max_in_flight` is the most requests it was serving at once: a test of concurrency checks it,
since right totals alone do not show that the calls overlapped.

Every model request is also counted with the fake's own tokenizer (`prompt_tokens`) and kept in
`prompts`, with the limit it was held to and the system prompt it started with, so a test can
check that each request fit its window. With `count_prompt`, that count is what the fake reports
as the prompt's tokens, as a real server would. `plan_forever` scripts runs of any length.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
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


TOKEN = re.compile(r"\w{1,6}|[^\w\s]")
PER_MESSAGE = 4  # the tokens a chat template adds around each message


def tokens(text: str) -> int:
    """The fake's tokenizer: a run of up to six word characters, or one other non-space."""
    return len(TOKEN.findall(text))


def json_tokens(value: Any) -> int:
    """Tokens of structured content (tool arguments, schemas) as the JSON text a model reads."""
    return tokens(json.dumps(value, ensure_ascii=False))


@dataclass(frozen=True)
class Prompt:
    """One model request as the fake counted it."""

    model: str
    tokens: int  # the whole prompt by the fake's tokenizer: messages, system, tools
    limit: int | None  # Ollama: the num_ctx it carried (None: none); others: the window held to
    system: str  # the system prompt it starts with ("" when it has none)
    messages: int  # how many messages it carried
    overflow: bool = False  # longer than its limit: Ollama cut its front, the others refused it
    error: str = ""  # the 400 message the fake refused it with

    @property
    def fits(self) -> bool:
        return not self.overflow and not self.error


Responder = Callable[[int], FakeTurn]


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
        self.prompts: list[Prompt] = []
        self.count_prompt = False  # report the fake's own count as the prompt's tokens
        self.responders: dict[str, Responder] = {}
        self._served: dict[str, int] = defaultdict(int)  # turns each responder has made
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

    def plan_forever(self, model: str, respond: Responder) -> None:
        """Once `model`'s planned turns run out, reply `respond(n)` to its n-th further request
        (from 0): a run of any length, e.g. a tool call 200 times, then an answer."""
        with self._lock:
            self.responders[model] = respond
            self._served[model] = 0

    def reset(self) -> None:
        """Forget requests, turns, prompts and responders: a shared fake as a fresh one."""
        with self._lock:
            self.requests.clear()
            self.turns.clear()
            self.prompts.clear()
            self.responders.clear()
            self._served.clear()
            self.max_in_flight = 0

    def next_turn(self, model: str) -> FakeTurn:
        """Take `model`'s next planned turn, after waiting its `delay` (simulated latency)."""
        turn = self._take(model)()
        time.sleep(turn.delay)
        return turn

    def _take(self, model: str) -> Callable[[], FakeTurn]:
        """The next planned turn, or the responder's next one (made outside the lock)."""
        with self._lock:
            queue = self.turns.get(model)
            if queue:
                planned = queue.popleft()
                return lambda: planned
            if model in self.responders:
                n = self._served[model]
                self._served[model] += 1
                return functools.partial(self.responders[model], n)
        raise LookupError(f"no planned turn for model {model!r}")

    def record(self, prompt: Prompt) -> Prompt:
        with self._lock:
            self.prompts.append(prompt)
        return prompt

    def input_tokens(self, turn: FakeTurn, counted: int) -> int:
        """The prompt tokens to report: the fake's count with `count_prompt`, else the turn's."""
        return counted if self.count_prompt else turn.input_tokens

    @property
    def overflows(self) -> list[Prompt]:
        """The requests that did not fit their limit (cut by Ollama, refused by the others)."""
        return [p for p in self.prompts if p.overflow]

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
