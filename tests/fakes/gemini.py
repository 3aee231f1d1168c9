"""A fake Gemini API (generativelanguage.googleapis.com) speaking its real REST wire format.

It checks `x-goog-api-key` the way Google does (no key: 403 PERMISSION_DENIED; a wrong key: 400
INVALID_ARGUMENT with reason API_KEY_INVALID), answers errors with Google's error body, replies to
`models/{model}:generateContent` as JSON and to `:streamGenerateContent?alt=sse` as data-only SSE
events, each a partial GenerateContentResponse, and serves `GET models[/{model}]` in pages.
Like Gemini 3, it signs the first function call of a reply with a `thoughtSignature`.

Like the real API it refuses, with its own 400 INVALID_ARGUMENT messages, a function response
turn that does not follow a function call turn with as many calls (or a call turn not answered
by one, or not after a user turn), and a prompt longer than `window` (else `input_token_limit`,
what the Models API reports) by the fake's tokenizer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import replace
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

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
GENERATE_ROUTE = re.compile(
    r"^/v1(?:beta)?/models/([^/:]+):(generateContent|streamGenerateContent)$"
)
MODEL_ROUTE = re.compile(r"^/v1(?:beta)?/models/([^/:]+)$")
LIST_ROUTE = re.compile(r"^/v1(?:beta)?/models$")
CHAT_METHODS = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]


def error_reply(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Reply:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"),
    }
    if details:
        error["details"] = details
    return Reply(status=status, body={"error": error})


def pieces(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def signature(n: int) -> str:
    return base64.b64encode(f"fake-signature-{n}".encode()).decode()


class FakeGemini(FakeServer):
    """`api_key` is the only key accepted; `models` lists chat models, `other_models` the rest."""

    def __init__(
        self,
        api_key: str = "k",
        models: Sequence[str] = ("gemini-2.5-flash", "gemini-2.5-pro"),
        other_models: Sequence[str] = ("text-embedding-004",),
        page_size: int = 50,
        thoughts_tokens: int = 0,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = list(models)
        self.other_models = list(other_models)
        self.page_size = page_size
        self.thoughts_tokens = thoughts_tokens
        self.input_token_limit = 1_048_576  # what the Models API reports of each chat model
        self.window: int | None = None  # the window held to; None: input_token_limit
        self._ids = count(1)

    def handle(self, request: Recorded) -> Reply:
        key = request.headers.get("x-goog-api-key") or request.query.get("key", [None])[0]
        if not key:
            return error_reply(403, "Method doesn't allow unregistered callers.")
        if key != self.api_key:
            reason = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
            return error_reply(400, "API key not valid. Please pass a valid API key.", [reason])
        if request.method == "POST" and (route := GENERATE_ROUTE.match(request.path)):
            model, method = route.groups()
            if model not in self.models:
                return _not_found(model, method)
            if method == "streamGenerateContent" and request.query.get("alt") != ["sse"]:
                return error_reply(400, "this fake streams only with alt=sse")
            return self._generate(model, request.body, method == "streamGenerateContent")
        if request.method == "GET" and LIST_ROUTE.match(request.path):
            return self._list(request.query.get("pageToken", ["0"])[0])
        if request.method == "GET" and (route := MODEL_ROUTE.match(request.path)):
            model = route.group(1)
            if model in self.models or model in self.other_models:
                return Reply(body=self._model(model))
            return _not_found(model, "get")
        return error_reply(404, f"no route for {request.method} {request.path}")

    def _list(self, token: str) -> Reply:
        names = self.models + self.other_models
        start = int(token or 0)
        body: dict[str, Any] = {
            "models": [self._model(m) for m in names[start : start + self.page_size]]
        }
        if start + self.page_size < len(names):
            body["nextPageToken"] = str(start + self.page_size)
        return Reply(body=body)

    def _model(self, model: str) -> dict[str, Any]:
        chat = model in self.models
        return {
            "name": f"models/{model}",
            "version": "001",
            "displayName": model.replace("-", " ").title(),
            "description": f"Fake {model}",
            "inputTokenLimit": self.input_token_limit if chat else 2048,
            "outputTokenLimit": 65_536 if chat else 1,
            "supportedGenerationMethods": CHAT_METHODS if chat else ["embedContent"],
        }

    def _generate(self, model: str, body: dict[str, Any], stream: bool) -> Reply:
        prompt = self.record(self._prompt(model, body))
        if prompt.error:
            return error_reply(400, prompt.error)
        turn = self.next_turn(model)
        if turn.status:
            return error_reply(turn.status, turn.error_message)
        turn = replace(turn, input_tokens=self.input_tokens(turn, prompt.tokens))
        calls = [{"functionCall": {"name": name, "args": args}} for name, args in turn.tool_calls]
        if calls:
            calls[0]["thoughtSignature"] = signature(next(self._ids))
        if not stream:
            parts = ([{"text": turn.text}] if turn.text else []) + calls
            return Reply(body=self._chunk(model, parts, self._usage(turn), "STOP"))
        # Text comes in pieces, the calls whole in a last chunk; only the last chunk has the
        # finish reason and the full usage (earlier ones count just the prompt so far).
        partial = {"promptTokenCount": turn.input_tokens, "totalTokenCount": turn.input_tokens}
        chunks = [self._chunk(model, [{"text": t}], partial, None) for t in pieces(turn.text, 3)]
        if calls or not chunks:
            chunks.append(self._chunk(model, calls, partial, None))
        chunks[-1]["usageMetadata"] = self._usage(turn)
        chunks[-1]["candidates"][0]["finishReason"] = "STOP"
        return Reply(chunks=sse((None, c) for c in chunks), content_type="text/event-stream")

    def _prompt(self, model: str, body: dict[str, Any]) -> Prompt:
        """The request counted, and the error the real API would refuse it with, if any."""
        counted, limit = prompt_tokens(body), self.window or self.input_token_limit
        error = turn_order_error(body.get("contents", [])) or ""
        if not error and counted > limit:
            error = (
                f"The input token count ({counted}) exceeds the maximum number of tokens allowed "
                f"({limit})."
            )
        system = body.get("systemInstruction") or {}
        return Prompt(
            model=model,
            tokens=counted,
            limit=limit,
            system="".join(part.get("text", "") for part in system.get("parts", [])),
            messages=len(body.get("contents", [])),
            overflow=counted > limit,
            error=error,
        )

    def _chunk(
        self, model: str, parts: list[dict[str, Any]], usage: dict[str, Any], finish: str | None
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": f"fake-response-{next(self._ids)}",
        }

    def _usage(self, turn: FakeTurn) -> dict[str, Any]:
        total = turn.input_tokens + turn.output_tokens + self.thoughts_tokens
        usage: dict[str, Any] = {
            "promptTokenCount": turn.input_tokens,
            "candidatesTokenCount": turn.output_tokens,
            "totalTokenCount": total,
        }
        if turn.cached_tokens:
            usage["cachedContentTokenCount"] = turn.cached_tokens
        if self.thoughts_tokens:
            usage["thoughtsTokenCount"] = self.thoughts_tokens
        return usage


def prompt_tokens(body: dict[str, Any]) -> int:
    """A generateContent request's prompt by the fake's tokenizer: the system instruction and
    every part (function calls and responses as JSON), a few tokens per turn, the tools."""
    system = body.get("systemInstruction")
    turns = ([system] if system else []) + body.get("contents", [])
    total = json_tokens(body["tools"]) if body.get("tools") else 0
    return total + sum(PER_MESSAGE + _parts_tokens(turn.get("parts", [])) for turn in turns)


def _parts_tokens(parts: list[dict[str, Any]]) -> int:
    total = 0
    for part in parts:
        if "text" in part:
            total += tokens(part["text"])
        for kind in ("functionCall", "functionResponse"):
            if kind in part:
                total += json_tokens({k: v for k, v in part[kind].items() if k != "id"})
    return total


def _count(turn: dict[str, Any] | None, kind: str) -> int:
    return sum(kind in part for part in (turn or {}).get("parts", []))


def turn_order_error(contents: list[dict[str, Any]]) -> str | None:
    """Gemini's 400 message for function calls and responses out of order; None when each
    call turn follows a user turn and is answered by as many responses in the next turn."""
    for i, turn in enumerate(contents):
        before = contents[i - 1] if i else None
        after = contents[i + 1] if i + 1 < len(contents) else None
        if _count(turn, "functionResponse") and not _count(before, "functionCall"):
            return (
                "Please ensure that function response turn comes immediately after a function "
                "call turn."
            )
        calls = _count(turn, "functionCall")
        if calls and (before is None or before.get("role") == "model"):
            return (
                "Please ensure that function call turn comes immediately after a user turn or "
                "after a function response turn."
            )
        if calls and after is not None and _count(after, "functionResponse") != calls:
            return (
                "Please ensure that the number of function response parts is equal to the "
                "number of function call parts of the function call turn."
            )
    return None


def _not_found(model: str, method: str) -> Reply:
    message = (
        f"models/{model} is not found for API version v1beta, or is not supported for {method}."
    )
    return error_reply(404, message)
