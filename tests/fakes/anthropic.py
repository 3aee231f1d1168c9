"""A fake Anthropic API speaking the real Messages and Models wire formats.

It checks the API key, answers errors with Anthropic's error body and type names, replies to
`POST /v1/messages` as JSON or as the named SSE events the SDK's stream helper accumulates (text
and tool input split into several deltas), and serves `GET /v1/models[/{id}]`.

Like the real API it refuses, with its own 400 messages, a conversation whose `tool_result` has
no `tool_use` in the message before it (or a `tool_use` with no result in the message after),
and a prompt longer than the model's window (`window`, else its `max_input_tokens`), counted by
the fake's tokenizer, alone or with `max_tokens`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from itertools import count
from typing import Any

from tests.fakes.server import (
    PER_MESSAGE,
    FakeServer,
    FakeTurn,
    Prompt,
    Recorded,
    Reply,
    json_tokens,
    sse,
    tokens,
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
CREATED_AT = "2025-09-29T00:00:00Z"


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_reply(status: int, message: str) -> Reply:
    return Reply(status=status, body=error_body(status, message), headers={"request-id": "req_1"})


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class FakeAnthropic(FakeServer):
    """`api_key` is the only key accepted.

    `models` maps each model the Models API lists to its `max_input_tokens` (None: not reported).
    `cache_creation_tokens` is reported on every reply (FakeTurn has no field for it).
    With `errors_in_stream`, a streamed turn with a `status` fails the way Anthropic fails an
    overloaded stream: HTTP 200, `message_start`, then an `error` event.
    """

    def __init__(
        self,
        api_key: str = "k",
        models: Mapping[str, int | None] | None = None,
        cache_creation_tokens: int = 0,
        errors_in_stream: bool = False,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = dict(models or {"claude-sonnet-4-6": 200_000, "claude-haiku-4-5": None})
        self.cache_creation_tokens = cache_creation_tokens
        self.errors_in_stream = errors_in_stream
        self.window: int | None = None  # the window held to; None: the model's max_input_tokens
        self._ids = count(1)

    def handle(self, request: Recorded) -> Reply:
        if self.api_key not in keys_sent(request.headers):
            return error_reply(401, "invalid x-api-key")
        if request.method == "POST" and request.path == "/v1/messages":
            return self._messages(request.body)
        if request.method == "GET" and request.path == "/v1/models":
            data = [self._model(model) for model in self.models]
            ids = list(self.models) or [None]
            body = {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}
            return Reply(body=body)
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            model = request.path.removeprefix("/v1/models/")
            if model in self.models:
                return Reply(body=self._model(model))
            return error_reply(404, f"model: {model}")
        return error_reply(404, f"no route for {request.method} {request.path}")

    def _model(self, model: str) -> dict[str, Any]:
        found = {
            "type": "model",
            "id": model,
            "display_name": model.replace("-", " ").title(),
            "created_at": CREATED_AT,
            "lifecycle": "active",
        }
        if self.models[model] is not None:
            found["max_input_tokens"] = self.models[model]
        return found

    def _messages(self, body: dict[str, Any]) -> Reply:
        model, streamed = body["model"], bool(body.get("stream"))
        prompt = self.record(self._prompt(body))
        if prompt.error:
            return error_reply(400, prompt.error)
        turn = self.next_turn(model)
        if turn.status and not (streamed and self.errors_in_stream):
            return error_reply(turn.status, turn.error_message)
        stop_reason = "tool_use" if turn.tool_calls else "end_turn"
        usage = {
            "input_tokens": self.input_tokens(turn, prompt.tokens),
            "output_tokens": turn.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_tokens,
            "cache_read_input_tokens": turn.cached_tokens,
        }
        message = {
            "id": f"msg_fake{next(self._ids):08d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self._blocks(turn),
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if not streamed:
            return Reply(body=message)
        events = list(_events(message))
        if turn.status:  # an error inside the stream
            events = [events[0], ("error", error_body(turn.status, turn.error_message))]
        return Reply(chunks=sse(events), content_type="text/event-stream")

    def _prompt(self, body: dict[str, Any]) -> Prompt:
        """The request counted, and the error the real API would refuse it with, if any."""
        counted, limit = prompt_tokens(body), self.window or self.models.get(body["model"])
        error = orphan_error(body["messages"]) or ""
        if not error and limit and counted > limit:
            error = f"prompt is too long: {counted} tokens > {limit} maximum"
        elif not error and limit and counted + body["max_tokens"] > limit:
            error = (
                f"input length and `max_tokens` exceed context limit: {counted} + "
                f"{body['max_tokens']} > {limit}, decrease input length or `max_tokens` and "
                "try again"
            )
        system = body.get("system") or ""
        return Prompt(
            model=body["model"],
            tokens=counted,
            limit=limit,
            system=system if isinstance(system, str) else "".join(_texts(system)),
            messages=len(body["messages"]),
            overflow=bool(limit) and counted + body["max_tokens"] > limit,
            error=error,
        )

    def _blocks(self, turn: FakeTurn) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
        for name, arguments in turn.tool_calls:
            call_id = f"toolu_fake{next(self._ids):08d}"
            blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
        return blocks


def prompt_tokens(body: dict[str, Any]) -> int:
    """A Messages request's prompt by the fake's tokenizer: system, every block of every message
    (tool inputs as JSON), a few tokens per message, and the tool schemas."""
    system = body.get("system") or ""
    total = json_tokens(body["tools"]) if body.get("tools") else 0
    if system:
        total += PER_MESSAGE + _block_tokens(system)
    return total + sum(PER_MESSAGE + _block_tokens(m["content"]) for m in body["messages"])


def _block_tokens(content: Any) -> int:
    if isinstance(content, str):
        return tokens(content)
    if isinstance(content, list):
        return sum(_block_tokens(block) for block in content)
    if content.get("type") == "text":
        return tokens(content["text"])
    if content.get("type") == "tool_use":
        return tokens(content["name"]) + json_tokens(content["input"])
    if content.get("type") == "tool_result":
        return _block_tokens(content.get("content") or "")
    return json_tokens(content)


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [block.get("text", "") for block in blocks if block.get("type") == "text"]


def _blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    return [b for b in content if b.get("type") == kind] if isinstance(content, list) else []


def orphan_error(messages: list[dict[str, Any]]) -> str | None:
    """Anthropic's 400 message for a tool result without its call just before it, or a call
    whose result is not in the next message; None when every call and result pair up."""
    for i, message in enumerate(messages):
        before = messages[i - 1] if i and messages[i - 1]["role"] == "assistant" else None
        called = {b["id"] for b in _blocks_of(before, "tool_use")} if before else set()
        content = message["content"] if isinstance(message["content"], list) else []
        for j, block in enumerate(content):
            if block.get("type") == "tool_result" and block["tool_use_id"] not in called:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {block['tool_use_id']}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )
        if message["role"] == "assistant" and i + 1 < len(messages):
            answered = {b["tool_use_id"] for b in _blocks_of(messages[i + 1], "tool_result")}
            called_here = [b["id"] for b in _blocks_of(message, "tool_use")]
            unanswered = [call for call in called_here if call not in answered]
            if unanswered:
                return (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(unanswered)}. Each `tool_use` block must "
                    "have a corresponding `tool_result` block in the next message."
                )
    return None


def keys_sent(headers: Mapping[str, str]) -> set[str | None]:
    """Older SDKs send the key as `x-api-key`, newer ones (2.x) as a bearer token."""
    return {headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer ")}


def _events(message: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """The streamed form of `message`, event by event as the real API sends them."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"], 4)]
        else:
            opening = {**block, "input": {}}
            raw = json.dumps(block["input"])
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in ["", *pieces(raw, 5)]
            ]
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opening},
        )
        for delta in deltas:
            yield (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}
