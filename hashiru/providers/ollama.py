"""Ollama: models served on this machine (or a host named by OLLAMA_HOST), free and local.

Uses the official `ollama.AsyncClient`. Chat requests are built here rather than through
`AsyncClient.chat`, whose `Tool` model drops the JSON Schema keywords it does not know (nested
object properties, `additionalProperties`, `minimum`, ...; ollama/ollama-python#429); they go out
through the client's own request path, so replies and HTTP errors are parsed by the SDK as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx
import ollama

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolSpec, Usage
from hashiru.providers.base import ModelInfo, Provider, StreamItem, new_call_id


class OllamaProvider(Provider):
    name: ClassVar[str] = "ollama"
    local: ClassVar[bool] = True

    def new_client(self) -> ollama.AsyncClient:
        return ollama.AsyncClient(host=self.config.base_url, timeout=self.config.timeout)

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        body = _chat_body(model, messages, tools, max_tokens, stream=False)
        with self._translated(model):
            reply = await self.client._request(ollama.ChatResponse, "POST", "/api/chat", json=body)
        return _response(reply.message.content or "", _tool_calls(reply.message), reply)

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        body = _chat_body(model, messages, tools, max_tokens, stream=True)
        text: list[str] = []
        calls: list[ToolCall] = []
        last: ollama.ChatResponse | None = None
        with self._translated(model):
            chunks = await self.client._request(
                ollama.ChatResponse, "POST", "/api/chat", json=body, stream=True
            )
            async for last in chunks:
                if last.message.content:
                    text.append(last.message.content)
                    yield TextDelta(text=last.message.content)
                calls.extend(_tool_calls(last.message))
        if last is None:
            raise ProviderError(self.name, "server", "the stream ended before any reply")
        yield _response("".join(text), calls, last)

    async def list_models(self) -> list[ModelInfo]:
        with self._translated():
            listing = await self.client.list()
            shown = await asyncio.gather(*(self.client.show(m.model or "") for m in listing.models))
        return [
            self.info(
                entry.model or "",
                context_tokens=_context_tokens(show),
                memory_bytes=entry.size,
                description=_description(show),
            )
            for entry, show in zip(listing.models, shown, strict=True)
        ]

    async def describe(self, model: str) -> ModelInfo:
        with self._translated(model):
            show, listing = await asyncio.gather(self.client.show(model), self.client.list())
        sizes = {entry.model: entry.size for entry in listing.models}
        size = sizes.get(model, sizes.get(f"{model}:latest"))
        return self.info(
            model,
            context_tokens=_context_tokens(show),
            memory_bytes=size,
            description=_description(show),
        )

    @contextmanager
    def _translated(self, model: str | None = None) -> Iterator[None]:
        """Turn every SDK or httpx failure into a ProviderError; the only place that knows them."""
        try:
            yield
        except ollama.ResponseError as exc:
            message = str(exc.error)
            if exc.status_code < 0:  # an {"error": ...} line in the middle of a stream
                raise ProviderError(self.name, "server", message) from exc
            if exc.status_code == 404 and model:
                message += f" (download it with `ollama pull {model}`)"
            raise ProviderError.for_status(self.name, exc.status_code, message) from exc
        except httpx.TimeoutException as exc:
            message = f"no reply from {self.config.base_url} in {self.config.timeout}s"
            raise ProviderError(self.name, "timeout", message) from exc
        except (httpx.ConnectError, ConnectionError) as exc:
            raise ProviderError(
                self.name,
                "connection",
                f"cannot reach Ollama at {self.config.base_url}: start it with "
                "`ollama serve`, or set OLLAMA_HOST to where it runs",
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderError(self.name, "connection", str(exc) or repr(exc)) from exc


def _chat_body(
    model: str,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    max_tokens: int,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [entry for message in messages for entry in _wire_messages(message)],
        "stream": stream,
        "options": {"num_predict": max_tokens},
    }
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in tools
        ]
    return body


def _wire_messages(message: Message) -> list[dict[str, Any]]:
    """One of our messages as Ollama's: each tool result is a `tool` message of its own."""
    if message.tool_results:
        return [
            {"role": "tool", "content": result.content, "tool_name": result.name}
            for result in message.tool_results
        ]
    wire: dict[str, Any] = {"role": message.role, "content": message.text}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    return [wire]


def _tool_calls(message: ollama.Message) -> list[ToolCall]:
    """Ollama's tool calls carry no ids (it matches results by tool name); we give them ours."""
    return [
        ToolCall(id=new_call_id(), name=call.function.name, arguments=dict(call.function.arguments))
        for call in message.tool_calls or []
    ]


def _response(text: str, calls: list[ToolCall], final: ollama.ChatResponse) -> ModelResponse:
    return ModelResponse(
        text=text,
        tool_calls=calls,
        usage=Usage(input_tokens=final.prompt_eval_count or 0, output_tokens=final.eval_count or 0),
        model=final.model or "",
        stop_reason=final.done_reason,
    )


def _context_tokens(show: ollama.ShowResponse) -> int | None:
    for key, value in (show.modelinfo or {}).items():
        if key.endswith(".context_length"):
            return int(value)
    return None


def _description(show: ollama.ShowResponse) -> str:
    details = show.details
    if details is None:
        return ""
    parts = (details.family, details.parameter_size, details.quantization_level)
    return " ".join(part for part in parts if part)
