"""Typed events a run emits; the CLI, the UI and the benchmarks all render these.

Nothing in the agent layer prints: it emits, and the edges decide what a person sees.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from hashiru.agents.staffing import Choice
from hashiru.messages import TextDelta, Usage
from hashiru.tools.base import to_json


class _ToolCallEvent(BaseModel):
    call_id: str
    name: str
    arguments: dict[str, Any]


class ToolCallStarted(_ToolCallEvent):
    kind: Literal["tool_call_started"] = "tool_call_started"


class ToolCallFinished(_ToolCallEvent):
    """A tool call's outcome as a value: what the tool returned (`result`, often one of the
    typed reports below) or why it failed (`error`). Renderers format it with
    `hashiru.display`; the model was sent `content`."""

    kind: Literal["tool_call_finished"] = "tool_call_finished"
    ok: bool
    result: Any = None
    error: str | None = None
    seconds: float

    @property
    def content(self) -> str:
        """The result as the model received it: JSON text."""
        return to_json(self.result if self.ok else {"error": self.error})


class EmployeeAnswer(BaseModel):
    """What `ask_agent` returns: an employee's answer, what it cost and what is left."""

    agent: str
    answer: str
    seconds: float
    cost_usd: Decimal
    usd_free: Decimal
    memory_free_gib: Decimal
    ask_id: int | None = None  # its outcome in the scorecard, by which it is rated
    kind: str = "other"


class HireReceipt(BaseModel):
    """What `hire_agent` returns: the hire, its fee or memory, and what is left."""

    hired: str
    model: str
    local: bool
    hire_fee_usd: Decimal
    memory_gib: Decimal
    usd_free: Decimal
    memory_free_gib: Decimal
    choice: Choice | None = None  # how `auto:<kind>` chose the model, with the numbers
    host: str = ""  # where its model is loaded, when the backend has several hosts


class _AgentEvent(BaseModel):
    name: str
    model: str


class AgentHired(_AgentEvent):
    kind: Literal["agent_hired"] = "agent_hired"


class AgentFired(_AgentEvent):
    kind: Literal["agent_fired"] = "agent_fired"


class ModelPulling(BaseModel):
    """A model being downloaded onto a host for a hire: bytes of the layers announced so far."""

    kind: Literal["model_pulling"] = "model_pulling"
    model: str
    host: str
    status: str
    completed: int
    total: int
    done: bool = False


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


class ContextCompacted(BaseModel):
    """An agent's request was compacted to fit its model's window (`how` says what was done:
    results cut or shortened, earlier messages summarized or left out)."""

    kind: Literal["context_compacted"] = "context_compacted"
    agent: str
    tokens_before: int
    tokens_after: int
    window: int
    how: str


class RunFailed(BaseModel):
    kind: Literal["error"] = "error"
    message: str
    run_id: str = ""


Event = (
    TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | AgentHired
    | AgentFired
    | ModelPulling
    | MemoriesRecalled
    | StepFinished
    | Answer
    | ContextCompacted
    | RunFailed
)


_RESULT_TYPES: dict[str, type[BaseModel]] = {t.__name__: t for t in (EmployeeAnswer, HireReceipt)}
_EVENT: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="kind")])


def to_record(event: Event) -> dict[str, Any]:
    """An event as JSON-ready values, to keep (a saved conversation redraws from these)."""
    record = event.model_dump(mode="json", fallback=str)
    if isinstance(event, ToolCallFinished) and type(event.result) in _RESULT_TYPES.values():
        record["result_type"] = type(event.result).__name__
    return record


def from_record(record: dict[str, Any]) -> Event:
    """The event a record was made from, its typed tool result included (ValidationError
    for a record that is not one)."""
    record = dict(record)
    result_type = _RESULT_TYPES.get(record.pop("result_type", ""))
    event = _EVENT.validate_python(record)
    if result_type is not None and isinstance(event, ToolCallFinished):
        event.result = result_type.model_validate(event.result)
    return event


def merged(events: list[Event]) -> list[Event]:
    """`events` with each run of streamed text joined into one delta, and each pull's progress
    down to its latest step: what is worth keeping."""
    kept: list[Event] = []
    for event in events:
        last = kept[-1] if kept else None
        if isinstance(event, TextDelta) and isinstance(last, TextDelta):
            kept[-1] = TextDelta(text=last.text + event.text)
        elif isinstance(event, ModelPulling) and (earlier := _same_pull(kept, event)) is not None:
            kept[earlier] = event
        else:
            kept.append(event)
    return kept


def _same_pull(kept: list[Event], pull: ModelPulling) -> int | None:
    """Where the latest step of `pull`'s download is among the pulls `kept` ends with (pulls
    running side by side interleave their steps)."""
    for index in range(len(kept) - 1, -1, -1):
        earlier = kept[index]
        if not isinstance(earlier, ModelPulling):
            return None
        if (earlier.model, earlier.host) == (pull.model, pull.host):
            return index
    return None
