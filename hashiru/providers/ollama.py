"""Ollama: models served on this machine (or a host named by OLLAMA_HOST), free and local.

Uses the official `ollama.AsyncClient`. Chat requests are built here rather than through
`AsyncClient.chat`, whose `Tool` model drops the JSON Schema keywords it does not know (nested
object properties, `additionalProperties`, `minimum`, ...; ollama/ollama-python#429); they go out
through the client's own request path, so replies and HTTP errors are parsed by the SDK as usual.

Every chat request carries `options.num_ctx`: the model's window (its `context_length`, or a
per-model setting) capped by `config.num_ctx`. Ollama silently cuts a longer prompt from the
front and reloads the model whenever num_ctx changes, so the number is worked out once per model
and process (one `/api/show`, before the first chat) and kept; `describe()` reports that same
number as `context_tokens`, and counts the KV cache it needs in `memory_bytes`.

`pull` downloads a model onto the host through POST /api/pull, streamed: Ollama's per-layer
progress lines are summed into one `PullProgress` per step, for a progress bar.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from typing import Any, ClassVar

import httpx
import ollama

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolSpec, Usage
from hashiru.providers.base import (
    ModelInfo,
    Provider,
    ProviderConfig,
    PullProgress,
    StreamItem,
    new_call_id,
)

FALLBACK_NUM_CTX = 4096  # Ollama's own default, when neither the model nor a setting says
KV_BYTES = 2  # an f16 KV cache, Ollama's default
# What a failed /api/show says of the chat that would follow it: the same failure.
_SHOW_FAILURES_THAT_END_THE_CALL = frozenset({"connection", "timeout", "not_found"})
# How Ollama says the registry has no such model (os.ErrNotExist, in server/images.go PullModel).
_NO_SUCH_MANIFEST = "file does not exist"


class OllamaProvider(Provider):
    name: ClassVar[str] = "ollama"
    local: ClassVar[bool] = True
    can_pull: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        self._num_ctx: dict[str, int] = {}  # by model name: the num_ctx its requests carry

    def new_client(self) -> ollama.AsyncClient:
        return ollama.AsyncClient(host=self.config.base_url, timeout=self.config.timeout)

    def window(self, model: str, reported: int | None) -> int:
        """The model's window (a setting, else its context_length), capped by num_ctx; a model
        that reports none gets the cap (or Ollama's default) rather than no num_ctx at all."""
        if model in self._num_ctx:
            return self._num_ctx[model]
        cap = self.config.num_ctx
        known = self._override(model) or reported or cap or FALLBACK_NUM_CTX
        return min(known, cap) if cap else known

    def _override(self, model: str) -> int | None:
        """A per-model setting, whether it names the model with its `:latest` tag or without."""
        bare = model.removesuffix(":latest")
        overrides = self.config.context_tokens
        return overrides.get(model) or overrides.get(bare) or overrides.get(f"{bare}:latest")

    def _keep(self, model: str, reported: int | None) -> int:
        """The num_ctx of every request to `model` from now on (the first answer wins)."""
        return self._num_ctx.setdefault(model, self.window(model, reported))

    async def num_ctx(self, model: str) -> int:
        """The num_ctx requests to `model` carry: asked of /api/show once, then kept.

        A show that fails the way the chat would (unreachable, slow, no such model) ends the
        call; any other failure (a server that answers chats but not /api/show) falls back to
        the cap, which real Ollama clamps to the model's trained context anyway.
        """
        if model not in self._num_ctx:
            try:
                with self._translated(model):
                    show = await self.client.show(model)
                reported = _context_tokens(show)
            except ProviderError as exc:
                if exc.kind in _SHOW_FAILURES_THAT_END_THE_CALL:
                    raise
                reported = None
            self._keep(model, reported)
        return self._num_ctx[model]

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        num_ctx = await self.num_ctx(model)
        body = _chat_body(model, messages, tools, max_tokens, num_ctx, stream=False)
        with self._translated(model):
            reply = await self.client._request(ollama.ChatResponse, "POST", "/api/chat", json=body)
        return _response(reply.message.content or "", _tool_calls(reply.message), reply)

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        num_ctx = await self.num_ctx(model)
        body = _chat_body(model, messages, tools, max_tokens, num_ctx, stream=True)
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
            self._info(entry.model or "", show, entry.size)
            for entry, show in zip(listing.models, shown, strict=True)
        ]

    async def describe(self, model: str) -> ModelInfo:
        with self._translated(model):
            show, listing = await asyncio.gather(self.client.show(model), self.client.list())
        sizes = {entry.model: entry.size for entry in listing.models}
        return self._info(model, show, sizes.get(model, sizes.get(f"{model}:latest")))

    def _info(self, model: str, show: ollama.ShowResponse, size: int | None) -> ModelInfo:
        """The model with the num_ctx its requests carry, and the memory that takes: the
        weights plus the KV cache for num_ctx tokens, where the model says its shape."""
        num_ctx = self._keep(model, _context_tokens(show))
        cache = kv_cache_bytes(show.modelinfo or {}, num_ctx)
        memory = None if size is None and cache is None else (size or 0) + (cache or 0)
        return self.info(
            model, context_tokens=num_ctx, memory_bytes=memory, description=_description(show)
        )

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        """Download `model` from the Ollama registry onto this host, step by step.

        Ollama reports each layer every 60 ms, bytes or not; a line with the same status, total
        and whole percent as the last one shown is dropped, so a bar gets about a hundred a layer.
        Closing the iterator early (`aclose`, or leaving `async with aclosing(...)`) closes the
        HTTP stream, which cancels the download on Ollama's side; a later pull resumes it.
        """
        host = self.config.base_url or "the default Ollama host"
        layers: dict[str, tuple[int, int]] = {}  # by digest: (completed, total)
        last: PullProgress | None = None
        with self._translated(model), self._registry_lacks(model):
            lines = await self.client.pull(model, stream=True)
            async with aclosing(lines):
                async for line in lines:
                    completed, total = _tally(line, layers)
                    step = PullProgress(
                        model=model,
                        host=host,
                        status=line.status or "",
                        completed=completed,
                        total=total,
                        done=line.status == "success",
                    )
                    if last is None or _moved(last, step):
                        last = step
                        yield step
        if last is None or not last.done:
            raise ProviderError(
                self.name, "server", f"{host} ended the pull of {model} before it succeeded"
            )

    @contextmanager
    def _registry_lacks(self, model: str) -> Iterator[None]:
        """Ollama says "pull model manifest: file does not exist"; say which model, and where
        to find the right name."""
        try:
            yield
        except ollama.ResponseError as exc:
            if _NO_SUCH_MANIFEST not in str(exc.error):
                raise
            raise ProviderError(
                self.name,
                "not_found",
                f"the Ollama registry has no model {model!r}: check its name and tag at "
                "https://ollama.com/library",
            ) from exc

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
                f"cannot reach Ollama at {self.config.base_url}: start it there with "
                "`ollama serve`, or point OLLAMA_HOST (or ollama_hosts) to where it runs",
            ) from exc
        except httpx.TransportError as exc:
            message = f"lost the connection to Ollama at {self.config.base_url}: {exc or repr(exc)}"
            raise ProviderError(self.name, "connection", message) from exc


def _tally(line: ollama.ProgressResponse, layers: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Bytes done and bytes in all, over the layers announced so far. A line with no digest
    after the layers (verifying, writing, success) means every download finished: Ollama's
    last tick of a layer may come before its last bytes."""
    if line.digest:
        layers[line.digest] = (line.completed or 0, line.total or 0)
    elif layers:
        layers.update({digest: (total, total) for digest, (_, total) in layers.items()})
    return sum(done for done, _ in layers.values()), sum(total for _, total in layers.values())


def _moved(last: PullProgress, step: PullProgress) -> bool:
    """Whether `step` is worth showing after `last`: a new status or total, or a new percent."""
    return (step.status, step.total, step.percent) != (last.status, last.total, last.percent)


def _chat_body(
    model: str,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    max_tokens: int,
    num_ctx: int,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [entry for message in messages for entry in _wire_messages(message)],
        "stream": stream,
        "options": {"num_predict": max_tokens, "num_ctx": num_ctx},
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


def kv_cache_bytes(model_info: Mapping[str, Any], num_ctx: int) -> int | None:
    """Bytes of an f16 KV cache holding `num_ctx` tokens, from the `<arch>.*` keys of
    /api/show's model_info; None when the model does not say its shape.

    Per token and layer it keeps a key and a value for each KV head:
    2 bytes x (key_length + value_length) x head_count_kv, summed over block_count layers (a
    per-layer list of head counts is summed as it is; no head_count_kv: no grouped-query
    attention, as many KV heads as heads).
    """
    arch = model_info.get("general.architecture")
    shape = {k.removeprefix(f"{arch}."): v for k, v in model_info.items()}
    width, heads = shape.get("embedding_length"), shape.get("attention.head_count")
    blocks, heads_kv = shape.get("block_count"), shape.get("attention.head_count_kv", heads)
    key = shape.get("attention.key_length") or (width // heads if _ints(width, heads) else None)
    value = shape.get("attention.value_length") or key
    if not arch or not _ints(blocks, key, value):
        return None
    if isinstance(heads_kv, list) and heads_kv and _ints(*heads_kv):
        layers = sum(heads_kv)
    elif _ints(heads_kv):
        layers = heads_kv * blocks
    else:
        return None
    return KV_BYTES * (key + value) * layers * num_ctx


def _ints(*values: object) -> bool:
    return all(isinstance(v, int) and v > 0 for v in values)


def _description(show: ollama.ShowResponse) -> str:
    details = show.details
    if details is None:
        return ""
    parts = (details.family, details.parameter_size, details.quantization_level)
    return " ".join(part for part in parts if part)
