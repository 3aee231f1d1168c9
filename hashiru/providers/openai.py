"""OpenAI through Chat Completions (`/v1/chat/completions`) and the official `openai` SDK.

Chat Completions is the one format every OpenAI-compatible server shares (vLLM, SGLang,
llama.cpp server, LM Studio, gateways), so the base URL and key are configuration and nothing
here assumes api.openai.com. The work is translation: tool calls carry their arguments as JSON
text, tool results are `role: tool` messages, a streamed reply sends tool calls in pieces by
index and its usage in a last chunk with no choices (`stream_options.include_usage`). The SDK
client is made with `max_retries=0` because `ChatModel` owns the retry policy.

A model may send arguments that are not JSON; that is the model's mistake, not a failed call, so
the call comes back with the text in `ToolCall.arguments_error` and the loop answers the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types import Model as OpenAIModel
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolSpec, Usage
from hashiru.providers.base import ModelInfo, Provider, StreamItem, new_call_id

# OpenAI's /v1/models names no windows; these are its documented context windows, by family
# (longest prefix wins). Compatible servers may report theirs (vLLM: `max_model_len`).
KNOWN_WINDOWS = {
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
}


class OpenAIProvider(Provider):
    name = "openai"
    local = False
    key_variables = ("OPENAI_API_KEY",)

    def new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self.api_key(),
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
        )

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        with self._translated():
            reply = await self.client.chat.completions.create(
                **_request(model, messages, tools, max_tokens)
            )
        return _response(reply)

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        reply = _Assembly(model=model)
        with self._translated():
            chunks = await self.client.chat.completions.create(
                **_request(model, messages, tools, max_tokens),
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in chunks:
                if text := reply.add(chunk):
                    yield TextDelta(text=text)
        yield reply.response()

    async def list_models(self) -> list[ModelInfo]:
        with self._translated():
            return [self._info(found) async for found in self.client.models.list()]

    async def describe(self, model: str) -> ModelInfo:
        with self._translated():
            try:
                found = await self.client.models.retrieve(model)
            except openai.NotFoundError as exc:
                message = f"no model '{model}' for this key (list_models shows the ones it can use)"
                raise ProviderError(self.name, "not_found", message, status=404) from exc
        return self._info(found)

    def _info(self, found: OpenAIModel) -> ModelInfo:
        reported = getattr(found, "max_model_len", None)
        context = reported if isinstance(reported, int) else known_window(found.id)
        return self.info(found.id, description=found.owned_by or "", context_tokens=context)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn every SDK failure into a ProviderError; the only place that knows SDK errors."""
        try:
            yield
        except openai.APIStatusError as exc:
            raise _status_error(self.name, exc) from exc
        except openai.APITimeoutError as exc:
            seconds = self.config.timeout
            raise ProviderError(self.name, "timeout", f"no reply within {seconds:g}s") from exc
        except openai.APIConnectionError as exc:
            where = self.config.base_url or "api.openai.com"
            reason = exc.__cause__ or exc
            raise ProviderError(self.name, "connection", f"cannot reach {where}: {reason}") from exc
        except openai.APIError as exc:  # an error object inside a stream that began with 200
            raise ProviderError(self.name, "server", exc.message) from exc


def known_window(model: str) -> int | None:
    """The documented window of an OpenAI model family, None for a model we do not know."""
    families = [f for f in KNOWN_WINDOWS if model.startswith(f)]
    return KNOWN_WINDOWS[max(families, key=len)] if families else None


def _request(
    model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": model,
        "max_completion_tokens": max_tokens,
        "messages": [turn for message in messages for turn in _turns(message)],
    }
    if tools:
        request["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in tools
        ]
    return request


def _turns(message: Message) -> list[dict[str, Any]]:
    """One message as Chat Completions messages: each tool result is a message of its own."""
    if message.role == "tool":
        return [
            {"role": "tool", "tool_call_id": r.call_id, "content": r.content}
            for r in message.tool_results
        ]
    if message.role != "assistant" or not message.tool_calls:
        return [{"role": message.role, "content": message.text}]
    calls = [
        {
            "id": c.id,
            "type": "function",
            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
        }
        for c in message.tool_calls
    ]
    return [{"role": "assistant", "content": message.text or None, "tool_calls": calls}]


def _call(call_id: str | None, name: str, arguments: str) -> ToolCall:
    """A tool call from its wire form; arguments that are not a JSON object are kept as text."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        parsed = None
    call_id = call_id or new_call_id()
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, arguments_error=arguments)
    return ToolCall(id=call_id, name=name, arguments=parsed)


def _usage(usage: CompletionUsage | None) -> Usage:
    """OpenAI's prompt count includes its cached part, as ours does."""
    if usage is None:
        return Usage()
    details = usage.prompt_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=(details.cached_tokens or 0) if details else 0,
    )


def _response(reply: ChatCompletion) -> ModelResponse:
    choice = reply.choices[0] if reply.choices else None
    message = choice.message if choice else None
    calls = [
        _call(c.id, c.function.name, c.function.arguments)
        for c in (message.tool_calls or [] if message else [])
        if c.type == "function"
    ]
    return ModelResponse(
        text=(message.content or "") if message else "",
        tool_calls=calls,
        usage=_usage(reply.usage),
        model=reply.model,
        stop_reason=choice.finish_reason if choice else None,
    )


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


@dataclass
class _Assembly:
    """A streamed reply put together chunk by chunk; tool calls arrive in pieces by index."""

    model: str
    text: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: CompletionUsage | None = None
    stop_reason: str | None = None

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Take in one chunk; return its text, if any."""
        self.model = chunk.model or self.model
        self.usage = chunk.usage or self.usage
        if not chunk.choices:  # the usage chunk
            return ""
        choice = chunk.choices[0]
        self.stop_reason = choice.finish_reason or self.stop_reason
        for piece in choice.delta.tool_calls or []:
            call = self.calls.setdefault(piece.index, _PartialCall())
            call.id = call.id or piece.id
            if piece.function:
                call.name += piece.function.name or ""
                call.arguments += piece.function.arguments or ""
        text = choice.delta.content or ""
        self.text.append(text)
        return text

    def response(self) -> ModelResponse:
        return ModelResponse(
            text="".join(self.text),
            tool_calls=[_call(c.id, c.name, c.arguments) for _, c in sorted(self.calls.items())],
            usage=_usage(self.usage),
            model=self.model,
            stop_reason=self.stop_reason,
        )


def _status_error(provider: str, exc: openai.APIStatusError) -> ProviderError:
    """Our error from OpenAI's `{"error": {"message", "type", "param", "code"}}` body (the SDK
    hands over what is inside `error`)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    kind = body.get("code") or body.get("type")
    message = body.get("message") or exc.message
    return ProviderError.for_status(
        provider, exc.status_code, f"{message} ({kind})" if kind else str(message)
    )
