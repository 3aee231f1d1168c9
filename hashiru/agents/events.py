"""Typed events a run emits; the CLI, the UI and the benchmarks all render these.

Nothing in the agent layer prints: it emits, and the edges decide what a person sees.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from hashiru.messages import TextDelta, Usage


class _ToolCallEvent(BaseModel):
    call_id: str
    name: str
    arguments: dict[str, Any]


class ToolCallStarted(_ToolCallEvent):
    kind: Literal["tool_call_started"] = "tool_call_started"


class ToolCallFinished(_ToolCallEvent):
    kind: Literal["tool_call_finished"] = "tool_call_finished"
    ok: bool
    result: str
    seconds: float


class _AgentEvent(BaseModel):
    name: str
    model: str


class AgentHired(_AgentEvent):
    kind: Literal["agent_hired"] = "agent_hired"


class AgentFired(_AgentEvent):
    kind: Literal["agent_fired"] = "agent_fired"


class MemoriesRecalled(BaseModel):
    kind: Literal["memories_recalled"] = "memories_recalled"
    memories: list[dict[str, Any]]  # id, text, kind, similarity


class StepFinished(BaseModel):
    kind: Literal["step_finished"] = "step_finished"
    step: int
    usage: Usage


class Answer(BaseModel):
    kind: Literal["answer"] = "answer"
    text: str


class RunFailed(BaseModel):
    kind: Literal["error"] = "error"
    message: str


Event = (
    TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | AgentHired
    | AgentFired
    | MemoriesRecalled
    | StepFinished
    | Answer
    | RunFailed
)
