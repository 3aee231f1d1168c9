"""Deterministic models for tests, demos and benchmarks: no network, no weights.

`scripted:<name>` plays back a script registered under that name, or `scripted:<file.json>`
plays the turns in that file. A turn is a reply (text and/or tool calls, optional usage and
`delay` seconds before it, and `token_delay` seconds between streamed words) or, in Python, a
function of the conversation and tools that returns one. Token counts default to characters / 4,
so usage is reported even when a script gives none.

    [{"tool_calls": [{"name": "list_models", "arguments": {}}]},
     {"text": "391 is the answer.", "delay": 0.2, "token_delay": 0.05}]
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolCall, ToolSpec, Usage
from hashiru.providers.base import ModelInfo, Provider, ProviderConfig, StreamItem

WINDOW = 1_000_000
"""A script's context window: large, so a script plays as written (a setting may shrink it)."""

Responder = Callable[[Sequence[Message], Sequence[ToolSpec]], ModelResponse | Awaitable]
Turn = dict[str, Any] | ModelResponse | Responder


class Script:
    """Turns played in order; `repeat=True` plays the last turn forever (a tireless employee)."""

    def __init__(self, turns: Sequence[Turn], repeat: bool = False) -> None:
        if not turns:
            raise ValueError("a script needs at least one turn")
        self.turns = list(turns)
        self._order: Iterator[Turn] = (
            itertools.chain(self.turns, itertools.repeat(self.turns[-1]))
            if repeat
            else iter(self.turns)
        )
        self._ids = itertools.count(1)

    async def play(
        self, name: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> AsyncIterator[StreamItem]:
        """Stream the next turn: its words (paced by `token_delay`), then the whole response."""
        turn = next(self._order, None)
        if turn is None:
            message = f"script {name!r} has no turns left"
            raise ProviderError(ScriptedProvider.name, "bad_request", message)
        if callable(turn):
            turn = turn(messages, tools)
            turn = await turn if inspect.isawaitable(turn) else turn
        if isinstance(turn, ModelResponse):
            yield turn
            return
        await asyncio.sleep(turn.get("delay", 0))
        text = turn.get("text", "")
        if token_delay := turn.get("token_delay", 0):
            for word in re.findall(r"\S+\s*|\s+", text):
                yield TextDelta(text=word)
                await asyncio.sleep(token_delay)
        calls = [
            ToolCall(id=f"call_{next(self._ids)}", name=c["name"], arguments=c.get("arguments", {}))
            for c in turn.get("tool_calls", [])
        ]
        usage = Usage(**turn["usage"]) if "usage" in turn else _estimate(messages, text, calls)
        yield ModelResponse(text=text, tool_calls=calls, usage=usage, model=name)


def _estimate(messages: Sequence[Message], text: str, calls: list[ToolCall]) -> Usage:
    sent = sum(len(m.model_dump_json()) for m in messages)
    said = len(text) + sum(len(json.dumps(c.arguments)) + len(c.name) for c in calls)
    return Usage(input_tokens=sent // 4, output_tokens=max(1, said // 4))


class ScriptedProvider(Provider):
    name = "scripted"
    local = True

    def __init__(
        self, scripts: dict[str, Script] | None = None, config: ProviderConfig | None = None
    ) -> None:
        super().__init__(config)
        self.scripts: dict[str, Script] = dict(scripts or {})

    def unavailable_reason(self) -> str | None:
        if self.scripts:
            return None
        return "a test and demo backend: give a script file as scripted:<path.json>"

    def _script(self, model: str) -> Script:
        if model not in self.scripts:
            path = Path(model).expanduser()
            if not path.is_file():
                raise ProviderError(self.name, "not_found", f"no script named {model!r}")
            try:
                self.scripts[model] = Script(json.loads(path.read_text("utf-8")))
            except (ValueError, TypeError) as exc:
                raise ProviderError(self.name, "bad_request", f"{path}: {exc}") from None
        return self.scripts[model]

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        items = [item async for item in self._script(model).play(model, messages, tools)]
        return items[-1]  # a turn always ends with its whole response

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        streamed = False
        async for item in self._script(model).play(model, messages, tools):
            if isinstance(item, ModelResponse) and item.text and not streamed:
                yield TextDelta(text=item.text)  # a turn without token_delay: one delta
            streamed = streamed or isinstance(item, TextDelta)
            yield item

    async def list_models(self) -> list[ModelInfo]:
        return [self.info(name, memory_bytes=0, context_tokens=WINDOW) for name in self.scripts]

    async def describe(self, model: str) -> ModelInfo:
        self._script(model)
        return self.info(model, memory_bytes=0, context_tokens=WINDOW)
