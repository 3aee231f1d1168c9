"""A fake OpenAI API speaking the real Chat Completions and Models wire formats.

It checks the bearer key, answers errors with OpenAI's `{"error": {message, type, param, code}}`
body, replies to `POST /v1/chat/completions` as one JSON object or as `data:` chunks (text and
tool-call arguments split into several deltas, tool calls by index, a usage chunk with no choices
when `stream_options.include_usage`, then `data: [DONE]`), and serves `GET /v1/models[/{id}]`.

Like the real API it refuses, with its own 400 messages, a `tool` message that answers no call of
the assistant message before it (or a call left unanswered), and a prompt that, alone or with
`max_completion_tokens`, is longer than the model's window (`window`, else the model's own),
counted by the fake's tokenizer (`code: context_length_exceeded`).
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
    401: "invalid_request_error",
    403: "insufficient_quota",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}
ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
CREATED = 1_700_000_000


def error_reply(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> Reply:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    error = {
        "message": message,
        "type": kind,
        "param": param,
        "code": code or ERROR_CODES.get(status),
    }
    return Reply(status=status, body={"error": error}, headers={"x-request-id": "req_1"})


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class FakeOpenAI(FakeServer):
    """`api_key` is the only key accepted (None: a server started without one, like vLLM
    without --api-key, which takes any request).

    `models` maps each model /v1/models lists to the window the fake holds its requests to
    (None: none); /v1/models itself reports no window, as OpenAI's does not, unless
    `reports_max_model_len` (vLLM's `max_model_len`).
    With `malformed_arguments`, every tool call's arguments are sent as that text instead.
    """

    def __init__(
        self, api_key: str | None = "k", models: Mapping[str, int | None] | None = None
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.reports_max_model_len = False
        self.models = dict(models or {"gpt-4.1-mini": 1_047_576, "gpt-4o-mini": 128_000})
        self.window: int | None = None  # the window held to; None: the model's own
        self.malformed_arguments: str | None = None
        self._ids = count(1)

    def handle(self, request: Recorded) -> Reply:
        key = request.headers.get("authorization")
        if self.api_key is not None and key != f"Bearer {self.api_key}":
            return error_reply(401, "Incorrect API key provided.")
        if request.method == "POST" and request.path == "/v1/chat/completions":
            return self._completions(request.body)
        if request.method == "GET" and request.path == "/v1/models":
            return Reply(body={"object": "list", "data": [self._model(m) for m in self.models]})
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            model = request.path.removeprefix("/v1/models/")
            if model in self.models:
                return Reply(body=self._model(model))
            return error_reply(404, f"The model '{model}' does not exist", param="model")
        return error_reply(404, f"Invalid URL ({request.method} {request.path})")

    def _model(self, model: str) -> dict[str, Any]:
        listed = {"id": model, "object": "model", "created": CREATED, "owned_by": "openai"}
        window = self.models[model]
        if self.reports_max_model_len and window:
            listed["max_model_len"] = window
        return listed

    def _completions(self, body: dict[str, Any]) -> Reply:
        model = body["model"]
        prompt = self.record(self._prompt(body))
        if prompt.error:
            code = "context_length_exceeded" if prompt.overflow else None
            return error_reply(400, prompt.error, code=code, param="messages")
        turn = self.next_turn(model)
        if turn.status:
            return error_reply(turn.status, turn.error_message)
        completion_id = f"chatcmpl-fake{next(self._ids):08d}"
        usage = {
            "prompt_tokens": self.input_tokens(turn, prompt.tokens),
            "completion_tokens": turn.output_tokens,
            "total_tokens": self.input_tokens(turn, prompt.tokens) + turn.output_tokens,
            "prompt_tokens_details": {"cached_tokens": turn.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        calls = self._calls(turn)
        finish = "tool_calls" if calls else "stop"
        head = {"id": completion_id, "created": CREATED, "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": turn.text or None, "refusal": None}
            if calls:
                message["tool_calls"] = calls
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return Reply(
                body={**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = _chunks(head, turn.text, calls, finish, usage if include_usage else None)
        return Reply(chunks=_sse_done(chunks), content_type="text/event-stream")

    def _calls(self, turn: FakeTurn) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_fake{next(self._ids):08d}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": self.malformed_arguments or json.dumps(arguments),
                },
            }
            for name, arguments in turn.tool_calls
        ]

    def _prompt(self, body: dict[str, Any]) -> Prompt:
        """The request counted, and the error the real API would refuse it with, if any."""
        counted, limit = prompt_tokens(body), self.window or self.models.get(body["model"])
        cap = body.get("max_completion_tokens") or body.get("max_tokens") or 0
        error = orphan_error(body["messages"]) or ""
        overflow = bool(limit) and counted + cap > limit
        if not error and overflow:
            error = (
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{counted + cap} tokens ({counted} in the messages, {cap} in the completion). "
                "Please reduce the length of the messages or completion."
            )
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        return Prompt(
            model=body["model"],
            tokens=counted,
            limit=limit,
            system=system or "",
            messages=len(body["messages"]),
            overflow=overflow,
            error=error,
        )


def prompt_tokens(body: dict[str, Any]) -> int:
    """A request's prompt by the fake's tokenizer: every message's content and tool calls (name
    and arguments text), a few tokens per message, and the tool schemas."""
    total = json_tokens(body["tools"]) if body.get("tools") else 0
    for message in body["messages"]:
        total += PER_MESSAGE + tokens(message.get("content") or "")
        for call in message.get("tool_calls") or []:
            total += tokens(call["function"]["name"]) + tokens(call["function"]["arguments"])
    return total


def orphan_error(messages: list[dict[str, Any]]) -> str | None:
    """OpenAI's 400 message for a tool message answering no call just before it, or for calls
    left without their tool messages; None when every call and result pair up."""
    waiting: list[str] = []  # calls of the last assistant message not yet answered
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] not in waiting:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(waiting)}"
            )
        waiting = [c["id"] for c in message.get("tool_calls") or []]
    return None


def _chunks(
    head: dict[str, Any],
    text: str,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, Any] | None,
) -> Iterable[dict[str, Any]]:
    """The streamed form of a reply, chunk by chunk as the real API sends them."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        extra = {"usage": None} if usage is not None else {}
        return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in pieces(text, 4):
        yield chunk({"content": piece})
    for index, call in enumerate(calls):
        function = call["function"]
        opening = {**call, "index": index, "function": {"name": function["name"], "arguments": ""}}
        yield chunk({"tool_calls": [opening]})
        for piece in pieces(function["arguments"], 5):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, finish)
    if usage is not None:
        yield {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}


def _sse_done(chunks: Iterable[dict[str, Any]]) -> Iterable[bytes]:
    yield from sse((None, c) for c in chunks)
    yield b"data: [DONE]\n\n"
