"""Typed conversation parts shared by providers, tools and the agent loop.

A Message is what one role said: text, tool calls (assistant) or tool results (tool).
Providers translate these to and from their wire formats; nothing else knows SDK types.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Usage(BaseModel):
    """Provider-reported token counts for one or more calls.

    `input_tokens` counts every prompt token, cached ones included (as Gemini, Ollama and
    OpenAI report it); `cache_read_tokens` and `cache_write_tokens` say how many of those were
    read from or written to the provider's prompt cache, which prices them differently.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )


class ToolCall(BaseModel):
    """A model's request to run a tool. `arguments` is already parsed JSON; arguments a model
    sent that were not a JSON object are kept, as text, in `arguments_error`, and the loop
    answers the call with an error the model can fix.

    `signature` is an opaque token some providers attach to a call and require back with it
    (Gemini's thought signature, base64); it is kept with the call, so it survives a restart.
    """

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    signature: str | None = None
    arguments_error: str | None = None  # arguments sent as text that is not a JSON object


class ToolResult(BaseModel):
    """What a tool returned (or why it failed), as JSON text for the model."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", text=text)

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", text=text)

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls(role="assistant", text=text)


class ToolSpec(BaseModel):
    """What a model is told about a tool: name, description and a JSON Schema for arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


class ModelResponse(BaseModel):
    """One model turn: its text, the tool calls it made and what it cost in tokens."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    stop_reason: str | None = None
    replayed: bool = False  # played back from a cassette: no call was made, nothing is paid

    def as_message(self) -> Message:
        return Message(role="assistant", text=self.text, tool_calls=self.tool_calls)


class TextDelta(BaseModel):
    """A piece of streamed text (also emitted as a run event, hence `kind`)."""

    kind: Literal["text_delta"] = "text_delta"
    text: str
