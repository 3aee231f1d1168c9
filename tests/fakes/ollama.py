"""A fake Ollama server speaking its native API: /api/chat (JSON or NDJSON), tags, show, ps, pull.

Like Ollama, it holds each chat to the `options.num_ctx` the request carries (4096 when none)
and silently cuts a longer prompt from the front: such a request is kept in `prompts` as an
overflow. `context_length` is what /api/show reports of every model, and `architecture` (the
`<arch>.` keys of model_info without the prefix, e.g. `{"block_count": 16, ...}`) its shape.

/api/pull downloads from `registry` ({name: layer sizes in bytes}) as Ollama's PullHandler
does: NDJSON progress lines, an unknown model's error as a line inside the 200 stream (HTTP 500
with `stream: false`), and the model listed only once every layer was sent; a client that hangs
up mid-pull stops it. `drop_chats` makes the host die mid-ask: /api/chat hangs up unanswered.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

from tests.fakes.server import (
    PER_MESSAGE,
    FakeServer,
    FakeTurn,
    Prompt,
    Recorded,
    Reply,
    json_tokens,
    ndjson,
    tokens,
)

CREATED_AT = "2026-01-01T00:00:00.000000Z"
DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "3.2B",
    "quantization_level": "Q4_K_M",
}
DEFAULT_NUM_CTX = 4096  # what Ollama holds when a request names no num_ctx
# Progress lines per layer: none, a quarter, half, three quarters done. Like Ollama's 60 ms
# ticker (server/download.go Wait), no line shows a layer whole: it stops once the layer is.
PULL_STEPS = 4
# Ollama's error for a model the registry lacks (server/images.go PullModel, os.ErrNotExist).
NO_SUCH_MODEL = "pull model manifest: file does not exist"


class HangUp(ConnectionResetError):
    """Raised by a route to close the connection unanswered, as a host that died would; the
    server drops the socket and stays quiet about it."""


class FakeOllama(FakeServer):
    """Serves `models` ({name: size in bytes}); chat replies come from the planned turns."""

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, int] = {"llama3.2:latest": 2_019_393_189, "qwen3:0.6b": 522_653_767}
        self.context_length = 131_072
        self.architecture: dict[str, Any] = {}  # model_info's `llama.*` shape keys, if any
        self.loaded: set[str] = set()
        self.registry: dict[str, list[int]] = {}  # what /api/pull can download: layer sizes
        self.pull_delay = 0.0  # seconds before each progress line: time to cancel a pull
        self.drop_chats = False  # /api/chat hangs up without a reply: the host died mid-ask
        self.down = False  # every request hangs up: see go_down

    def go_down(self) -> None:
        """Stop serving: new connections are refused, and open ones hang up on their next
        request (a stopped server's kept-alive connections would otherwise still answer)."""
        self.down = True
        self.__exit__()

    def handle(self, request: Recorded) -> Reply:
        route = (request.method, request.path)
        if self.down:
            raise HangUp("the fake host is down")
        if route == ("POST", "/api/chat"):
            if self.drop_chats:
                raise HangUp("the fake host died mid-ask")
            return self._chat(request.body)
        if route == ("POST", "/api/pull"):
            return self._pull(request.body)
        if route == ("GET", "/api/tags"):
            return Reply(body={"models": [self._entry(name) for name in self.models]})
        if route == ("POST", "/api/show"):
            return self._show(request.body["model"])
        if route == ("GET", "/api/ps"):
            models = [
                {**self._entry(name), "size_vram": self.models[name], "expires_at": CREATED_AT}
                for name in sorted(self.loaded)
            ]
            return Reply(body={"models": models})
        return Reply(status=404, body={"error": f"404 page not found: {request.path}"})

    def _known(self, model: str) -> str | None:
        for name in (model, f"{model}:latest"):
            if name in self.models:
                return name
        return None

    def _pull(self, body: dict[str, Any]) -> Reply:
        """Stream the pull's lines, or with `stream: false` answer its last one (or its error,
        with HTTP 500), as Ollama's streamResponse and waitForStream do."""
        lines = self._pull_lines(_tagged(body.get("model") or body.get("name") or ""))
        if body.get("stream", True):
            return Reply(chunks=ndjson(lines), content_type="application/x-ndjson")
        latest: dict[str, Any] = {}
        for latest in lines:
            if "error" in latest:
                return Reply(status=500, body=latest)
        return Reply(body=latest)

    def _pull_lines(self, name: str) -> Iterator[dict[str, Any]]:
        """Ollama's PullModel: the manifest, each layer in a few steps, then the manifest
        written (the model listed) and success. Not resumed once the client hangs up."""
        yield {"status": "pulling manifest"}
        layers = self.registry.get(name, self.registry.get(name.removesuffix(":latest")))
        if layers is None:
            yield {"error": NO_SUCH_MODEL}
            return
        for index, size in enumerate(layers):
            digest = "sha256:" + hashlib.sha256(f"{name}/{index}".encode()).hexdigest()
            for step in range(PULL_STEPS):
                time.sleep(self.pull_delay)
                line = {"status": f"pulling {digest[7:19]}", "digest": digest, "total": size}
                completed = size * step // PULL_STEPS
                yield {**line, "completed": completed} if completed else line
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        self.models[name] = sum(layers)
        yield {"status": "success"}

    def _entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": CREATED_AT,
            "size": self.models[name],
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": DETAILS,
        }

    def _show(self, model: str) -> Reply:
        if self._known(model) is None:
            return Reply(status=404, body={"error": f"model '{model}' not found"})
        return Reply(
            body={
                "modelfile": f"FROM {model}\n",
                "parameters": 'stop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": DETAILS,
                "model_info": {
                    "general.architecture": "llama",
                    "general.parameter_count": 3_212_749_888,
                    "llama.context_length": self.context_length,
                    **{f"llama.{key}": value for key, value in self.architecture.items()},
                },
                "capabilities": ["completion", "tools"],
                "modified_at": CREATED_AT,
            }
        )

    def _chat(self, body: dict[str, Any]) -> Reply:
        model = body["model"]
        prompt = self.record(_prompt(body))
        turn = self.next_turn(model)
        if turn.status:
            return Reply(status=turn.status, body={"error": turn.error_message})
        self.loaded.add(self._known(model) or model)
        # What the model read: a prompt past num_ctx lost its front.
        final = _final(turn, self.input_tokens(turn, min(prompt.tokens, _num_ctx(body))))
        if body.get("stream", True):
            chunks = _stream(model, turn, final)
            return Reply(chunks=ndjson(chunks), content_type="application/x-ndjson")
        return Reply(body=_chunk(model, _message(turn.text, turn), final))


def _tagged(name: str) -> str:
    """The name Ollama stores a model under: `latest` when it names no tag."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def prompt_tokens(body: dict[str, Any]) -> int:
    """A chat request's prompt by the fake's tokenizer: each message's content, tool name and
    call arguments, a few tokens per message, and the tool schemas."""
    total = json_tokens(body["tools"]) if body.get("tools") else 0
    for message in body.get("messages", []):
        total += PER_MESSAGE + tokens(message.get("content") or "")
        total += tokens(message.get("tool_name") or "")
        total += sum(json_tokens(call.get("function")) for call in message.get("tool_calls") or [])
    return total


def _num_ctx(body: dict[str, Any]) -> int:
    return (body.get("options") or {}).get("num_ctx") or DEFAULT_NUM_CTX


def _prompt(body: dict[str, Any]) -> Prompt:
    messages = body.get("messages", [])
    first = messages[0] if messages else {}
    counted = prompt_tokens(body)
    return Prompt(
        model=body["model"],
        tokens=counted,
        limit=(body.get("options") or {}).get("num_ctx"),
        system=first.get("content", "") if first.get("role") == "system" else "",
        messages=len(messages),
        overflow=counted > _num_ctx(body),
    )


def _message(text: str, turn: FakeTurn | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if turn and turn.tool_calls:
        message["tool_calls"] = [
            {"function": {"name": name, "arguments": arguments}}
            for name, arguments in turn.tool_calls
        ]
    return message


def _final(turn: FakeTurn, input_tokens: int) -> dict[str, Any]:
    return {
        "done": True,
        "done_reason": "stop",
        "total_duration": 1_200_000_000,
        "load_duration": 50_000_000,
        "prompt_eval_count": input_tokens,
        "prompt_eval_duration": 150_000_000,
        "eval_count": turn.output_tokens,
        "eval_duration": 900_000_000,
    }


def _chunk(model: str, message: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "created_at": CREATED_AT, "message": message, **extra}


def _stream(model: str, turn: FakeTurn, final: dict[str, Any]) -> list[dict[str, Any]]:
    """Word-sized content pieces, tool calls in a chunk of their own, then the counts."""
    pieces = re.findall(r"\S+\s*|\s+", turn.text)
    chunks = [_chunk(model, _message(piece), {"done": False}) for piece in pieces]
    if turn.tool_calls:
        chunks.append(_chunk(model, _message("", turn), {"done": False}))
    chunks.append(_chunk(model, _message(""), final))
    return chunks
