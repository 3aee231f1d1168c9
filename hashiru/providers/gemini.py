"""Gemini through Google's official `google-genai` SDK.

The work here is translation: Gemini wants the system prompt in the config, calls the assistant
"model", and takes tool results as `function_response` parts of a user turn. Three SDK features
are switched off because HASHIRU owns them: automatic function calling (our loop runs the tools),
retries (`ChatModel` retries) and the SDK's choice of HTTP stack (we hand it one httpx client, so
network failures arrive as httpx errors whatever else is installed). The API version is pinned
to v1beta, where Google documents `parametersJsonSchema`, so tool schemas go out unchanged.

Gemini 3 rejects a conversation whose function calls lack the `thought_signature` they came with,
so each call carries its signature (base64) in `ToolCall.signature` and sends it back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from google import genai
from google.genai import errors, types

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolSpec, Usage
from hashiru.providers.base import ModelInfo, Provider, StreamItem, new_call_id


class GeminiProvider(Provider):
    name = "gemini"
    local = False
    key_variables = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def new_client(self) -> genai.Client:
        key = self.api_key()
        options = types.HttpOptions(
            base_url=self.config.base_url,
            api_version="v1beta",
            timeout=int(self.config.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_async_client=httpx.AsyncClient(),
        )
        return genai.Client(vertexai=False, api_key=key, http_options=options)

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        with self._translated():
            reply = await self.client.aio.models.generate_content(
                model=model,
                contents=self._contents(messages),
                config=_config(messages, tools, max_tokens),
            )
        return self._response([reply], model)

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        chunks: list[types.GenerateContentResponse] = []
        with self._translated():
            replies = await self.client.aio.models.generate_content_stream(
                model=model,
                contents=self._contents(messages),
                config=_config(messages, tools, max_tokens),
            )
            async for chunk in replies:
                chunks.append(chunk)
                text = _text(_parts(chunk))
                if text:
                    yield TextDelta(text=text)
        yield self._response(chunks, model)

    async def list_models(self) -> list[ModelInfo]:
        with self._translated():
            return [
                self._info(found)
                async for found in await self.client.aio.models.list()
                if "generateContent" in (found.supported_actions or [])
            ]

    async def describe(self, model: str) -> ModelInfo:
        with self._translated():
            try:
                found = await self.client.aio.models.get(model=model)
            except errors.APIError as exc:
                if exc.code != 404:
                    raise
                message = f"no model '{model}' for this key (list_models shows the ones it can use)"
                raise ProviderError(self.name, "not_found", message, status=404) from exc
        return self._info(found)

    def _info(self, found: types.Model) -> ModelInfo:
        name = (found.name or "").removeprefix("models/")
        description = found.display_name or found.description or ""
        return self.info(name, description=description, context_tokens=found.input_token_limit)

    def _contents(self, messages: Sequence[Message]) -> list[types.Content]:
        """Our messages as Gemini turns; system text goes to the config instead."""
        contents: list[types.Content] = []
        for message in messages:
            if message.role == "user":
                contents.append(types.Content(role="user", parts=[types.Part(text=message.text)]))
            elif message.role == "assistant":
                parts = [types.Part(text=message.text)] if message.text else []
                parts += [
                    types.Part(
                        function_call=types.FunctionCall(id=c.id, name=c.name, args=c.arguments),
                        thought_signature=base64.b64decode(c.signature) if c.signature else None,
                    )
                    for c in message.tool_calls
                ]
                if parts:
                    contents.append(types.Content(role="model", parts=parts))
            elif message.role == "tool":
                parts = [
                    types.Part(
                        function_response=types.FunctionResponse(
                            id=r.call_id, name=r.name, response=_result(r.content, r.is_error)
                        )
                    )
                    for r in message.tool_results
                ]
                contents.append(types.Content(role="user", parts=parts))
        return contents

    def _response(
        self, chunks: Sequence[types.GenerateContentResponse], model: str
    ) -> ModelResponse:
        """One response from a whole reply or from all of a stream's chunks."""
        parts = [part for chunk in chunks for part in _parts(chunk)]
        calls = []
        for part in parts:
            if part.function_call is None:
                continue
            call = part.function_call
            signature = part.thought_signature
            calls.append(
                ToolCall(
                    id=call.id or new_call_id(),
                    name=call.name or "",
                    arguments=call.args or {},
                    signature=base64.b64encode(signature).decode() if signature else None,
                )
            )
        usage = next((c.usage_metadata for c in reversed(chunks) if c.usage_metadata), None)
        return ModelResponse(
            text=_text(parts),
            tool_calls=calls,
            usage=_usage(usage),
            model=next((c.model_version for c in chunks if c.model_version), model),
            stop_reason=_stop_reason(chunks),
        )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn every SDK failure into a ProviderError; the only place that knows SDK errors."""
        try:
            yield
        except errors.APIError as exc:
            message = f"{exc.message or exc}" + (f" ({exc.status})" if exc.status else "")
            if exc.code == 400 and _is_key_error(exc.details):
                raise ProviderError(self.name, "auth", message, status=400) from exc
            raise ProviderError.for_status(self.name, exc.code, message) from exc
        except httpx.TimeoutException as exc:
            seconds = self.config.timeout
            raise ProviderError(self.name, "timeout", f"no reply within {seconds:g}s") from exc
        except httpx.TransportError as exc:
            where = self.config.base_url or "generativelanguage.googleapis.com"
            raise ProviderError(self.name, "connection", f"cannot reach {where}: {exc}") from exc
        except errors.UnknownApiResponseError as exc:
            raise ProviderError(self.name, "server", str(exc)) from exc


def _config(
    messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
) -> types.GenerateContentConfig:
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    declarations = [
        types.FunctionDeclaration(
            name=t.name, description=t.description, parameters_json_schema=t.parameters
        )
        for t in tools
    ]
    return types.GenerateContentConfig(
        system_instruction=system or None,
        max_output_tokens=max_tokens,
        tools=[types.Tool(function_declarations=declarations)] if declarations else None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


def _result(content: str, is_error: bool) -> dict[str, Any]:
    """A tool's output as Gemini's `response` object: parsed JSON when it is JSON."""
    try:
        value: Any = json.loads(content)
    except json.JSONDecodeError:
        value = content
    return {"error": value} if is_error else {"result": value}


def _parts(chunk: types.GenerateContentResponse) -> list[types.Part]:
    candidate = chunk.candidates[0] if chunk.candidates else None
    return list(candidate.content.parts or []) if candidate and candidate.content else []


def _text(parts: Sequence[types.Part]) -> str:
    """The answer's text, leaving out thought summaries."""
    return "".join(p.text for p in parts if p.text and not p.thought)


def _usage(meta: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    if meta is None:
        return Usage()
    return Usage(
        input_tokens=meta.prompt_token_count or 0,
        # Thinking is billed as output, and Gemini counts it apart from the answer.
        output_tokens=(meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
        cache_read_tokens=meta.cached_content_token_count or 0,
    )


def _stop_reason(chunks: Sequence[types.GenerateContentResponse]) -> str | None:
    """The last finish reason, or why the prompt was blocked when no candidate came back."""
    for chunk in reversed(chunks):
        if chunk.candidates and chunk.candidates[0].finish_reason:
            return chunk.candidates[0].finish_reason.value
        if chunk.prompt_feedback and chunk.prompt_feedback.block_reason:
            return chunk.prompt_feedback.block_reason.value
    return None


def _is_key_error(details: Any) -> bool:
    """Google answers a bad API key with 400 and an ErrorInfo reason such as API_KEY_INVALID."""
    error = details.get("error") if isinstance(details, dict) else None
    infos = error.get("details") if isinstance(error, dict) else None
    return any(
        isinstance(info, dict) and str(info.get("reason", "")).startswith("API_KEY_")
        for info in infos or []
    )
