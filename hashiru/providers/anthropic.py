"""Claude through Anthropic's Messages API and the official `anthropic` SDK.

The work here is translation. Anthropic wants the system prompt as a top-level field, strict
user/assistant alternation, tool calls as `tool_use` blocks and tool results as `tool_result`
blocks inside a user message; it counts cached input apart from the rest. The SDK client is made
with `max_retries=0` because `ChatModel` owns the retry policy: two layers would multiply waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anthropic
from anthropic.types import Message as AnthropicMessage
from anthropic.types import ModelInfo as AnthropicModel

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolSpec, Usage
from hashiru.providers.base import ModelInfo, Provider, StreamItem

# An `error` event inside a streamed reply arrives under HTTP 200 and names only its type.
_IN_STREAM_STATUS = {"rate_limit_error": 429, "overloaded_error": 529}


class AnthropicProvider(Provider):
    name = "anthropic"
    local = False
    key_variables = ("ANTHROPIC_API_KEY",)

    def new_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=self.api_key(),
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=0,
        )

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        with self._translated():
            reply = await self.client.messages.create(
                **_request(model, messages, tools, max_tokens)
            )
        return _response(reply)

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        with self._translated():
            request = _request(model, messages, tools, max_tokens)
            async with self.client.messages.stream(**request) as events:
                async for text in events.text_stream:
                    yield TextDelta(text=text)
                final = await events.get_final_message()
        yield _response(final)

    async def list_models(self) -> list[ModelInfo]:
        with self._translated():
            return [self._info(found) async for found in self.client.models.list()]

    async def describe(self, model: str) -> ModelInfo:
        with self._translated():
            try:
                found = await self.client.models.retrieve(model)
            except anthropic.NotFoundError as exc:
                message = f"no model '{model}' for this key (list_models shows the ones it can use)"
                raise ProviderError(self.name, "not_found", message, status=404) from exc
        return self._info(found)

    def _info(self, found: AnthropicModel) -> ModelInfo:
        # The Models API may report a context size; older replies and SDKs do not.
        context = getattr(found, "max_input_tokens", None)
        return self.info(found.id, description=found.display_name, context_tokens=context)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn every SDK failure into a ProviderError; the only place that knows SDK errors."""
        try:
            yield
        except anthropic.APIStatusError as exc:
            raise _status_error(exc) from exc
        except anthropic.APITimeoutError as exc:
            seconds = self.config.timeout
            raise ProviderError(self.name, "timeout", f"no reply within {seconds:g}s") from exc
        except anthropic.APIConnectionError as exc:
            where = self.config.base_url or "api.anthropic.com"
            reason = exc.__cause__ or exc
            raise ProviderError(self.name, "connection", f"cannot reach {where}: {reason}") from exc


def _request(
    model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
) -> dict[str, Any]:
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": _turns(messages),
    }
    if system:
        request["system"] = system
    if tools:
        request["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in tools
        ]
    return request


def _turns(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our messages as Anthropic turns, merging neighbours of one role (it requires alternation).

    Tool results become a user turn whose `tool_result` blocks come first, as Anthropic asks.
    """
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        blocks: list[dict[str, Any]] = [
            {
                "type": "tool_result",
                "tool_use_id": r.call_id,
                "content": r.content,
                "is_error": r.is_error,
            }
            for r in message.tool_results
        ]
        if message.text:
            blocks.append({"type": "text", "text": message.text})
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
            for c in message.tool_calls
        ]
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        elif blocks:
            turns.append({"role": role, "content": blocks})
    return turns


def _response(reply: AnthropicMessage) -> ModelResponse:
    usage = reply.usage
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    return ModelResponse(
        text="".join(block.text for block in reply.content if block.type == "text"),
        tool_calls=[
            ToolCall(id=block.id, name=block.name, arguments=block.input)
            for block in reply.content
            if block.type == "tool_use"
        ],
        usage=Usage(  # Anthropic counts cached input apart; ours includes it
            input_tokens=usage.input_tokens + cache_read + cache_write,
            output_tokens=usage.output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        ),
        model=reply.model,
        stop_reason=reply.stop_reason,
    )


def _status_error(exc: anthropic.APIStatusError) -> ProviderError:
    """Our error from Anthropic's `{"type": "error", "error": {"type", "message"}}` body."""
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type") or "error")
    status = exc.status_code if exc.status_code >= 400 else _IN_STREAM_STATUS.get(kind, 500)
    message = f"{error['message']} ({kind})" if error.get("message") else exc.message
    return ProviderError.for_status(AnthropicProvider.name, status, message)
