"""The agent loop: ask the model, run the tools it calls (concurrently), repeat until it answers.

Model mistakes never raise here: an unknown tool, arguments that break the schema or a tool
that fails all come back to the model as error results it can act on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from hashiru import tracing
from hashiru.agents.events import Answer, Event, StepFinished, ToolCallFinished, ToolCallStarted
from hashiru.errors import BudgetExceeded, HashiruError, RunLimitError
from hashiru.messages import (
    Message,
    ModelResponse,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from hashiru.providers import Chat
from hashiru.tools import Tool, ToolFailure
from hashiru.tools.base import to_json

Emit = Callable[[Event], None]
Notices = Callable[[], list[str]]
Toolbox = Callable[[], Sequence[Tool]]

LAST_STEP_NOTE = (
    "This is your last step: answer the user now with what you have; do not call tools."
)


class ToolRecord(BaseModel):
    name: str
    arguments: dict[str, Any]
    ok: bool
    seconds: float


class LoopOutcome(BaseModel):
    answer: str
    steps: int
    usage: Usage = Field(default_factory=Usage)
    tool_calls: list[ToolRecord] = Field(default_factory=list)


async def run_loop(
    model: Chat,
    messages: list[Message],
    toolbox: Toolbox,
    emit: Emit,
    max_steps: int,
    max_seconds: float,
    notices: Notices | None = None,
) -> LoopOutcome:
    """Drive `model` until it answers; `messages` grows with every turn (the caller keeps it).

    `toolbox` is asked for the tools before every step, so a tool made in one step is offered
    in the next. `notices` is asked after every step's tools: what it returns (budget warnings)
    goes to the model with that step's results.
    """
    try:
        async with asyncio.timeout(max_seconds):
            return await _steps(model, messages, toolbox, emit, max_steps, notices)
    except TimeoutError:
        raise RunLimitError(
            f"The run took longer than {max_seconds:g} s (raise HASHIRU_MAX_SECONDS)."
        ) from None


async def _steps(
    model: Chat,
    messages: list[Message],
    toolbox: Toolbox,
    emit: Emit,
    max_steps: int,
    notices: Notices | None,
) -> LoopOutcome:
    outcome = LoopOutcome(answer="", steps=0)
    for step in range(1, max_steps + 1):
        with tracing.span(f"step {step}", **{"hashiru.step": step}):
            if await _step(
                step, model, messages, toolbox, emit, step == max_steps, notices, outcome
            ):
                return outcome
    raise RunLimitError(
        f"The CEO did not answer within {max_steps} steps (raise HASHIRU_MAX_STEPS)."
    )


async def _step(
    step: int,
    model: Chat,
    messages: list[Message],
    toolbox: Toolbox,
    emit: Emit,
    last: bool,
    notices: Notices | None,
    outcome: LoopOutcome,
) -> bool:
    """One step: the model's turn, then the tools it called; True once it has answered."""
    tools = toolbox()
    by_name = {t.name: t for t in tools}
    specs = [t.spec for t in tools]
    prompt = [*messages, Message.user(LAST_STEP_NOTE)] if last and step > 1 else messages
    response = await _model_turn(model, prompt, specs, emit)
    messages.append(response.as_message())
    outcome.steps = step
    outcome.usage += response.usage
    emit(StepFinished(step=step, usage=response.usage))
    if not response.tool_calls:
        outcome.answer = response.text
        emit(Answer(text=response.text))
        return True
    if last:
        return False
    done = await asyncio.gather(*(_run_tool(c, by_name, emit) for c in response.tool_calls))
    results = [result for result, _ in done]
    if notices and (notes := notices()):
        results[-1] = _with_notices(results[-1], notes)
    messages.append(Message(role="tool", tool_results=results))
    outcome.tool_calls.extend(record for _, record in done)
    return False


async def _model_turn(
    model: Chat, messages: list[Message], specs: list[ToolSpec], emit: Emit
) -> ModelResponse:
    """Stream one turn to the end (a metered model settles its bill when the stream ends)."""
    response = None
    async for item in model.stream(messages, specs):
        if isinstance(item, TextDelta):
            emit(item)
        else:
            response = item
    if response is None:
        raise HashiruError(f"{model.ref} ended its stream without a response.")
    return response


async def _run_tool(
    call: ToolCall, tools: dict[str, Tool], emit: Emit
) -> tuple[ToolResult, ToolRecord]:
    emit(ToolCallStarted(call_id=call.id, name=call.name, arguments=call.arguments))
    started = time.monotonic()
    with tracing.span(f"execute_tool {call.name}", **_tool_span(call)) as span:
        value, error = await _call(call, tools)
        span.set(**{"error.type": "tool_error" if error else None})
        if tracing.content_traced():
            span.set(**{"gen_ai.tool.call.result": tracing.as_text(error or to_json(value))})
    finished = ToolCallFinished(
        call_id=call.id,
        name=call.name,
        arguments=call.arguments,
        ok=error is None,
        result=value,
        error=error,
        seconds=time.monotonic() - started,
    )
    emit(finished)
    result = ToolResult(
        call_id=call.id, name=call.name, content=finished.content, is_error=not finished.ok
    )
    record = ToolRecord(
        name=call.name, arguments=call.arguments, ok=finished.ok, seconds=finished.seconds
    )
    return result, record


async def _call(call: ToolCall, tools: dict[str, Tool]) -> tuple[Any, str | None]:
    """The tool's value, or why it failed: every failure is the model's to read."""
    try:
        tool = tools.get(call.name)
        if tool is None:
            raise ToolFailure(f"unknown tool '{call.name}'; available: {', '.join(tools)}")
        if call.arguments_error is not None:
            raise ToolFailure(
                f"the arguments for {call.name} are not a JSON object "
                f"({call.arguments_error[:200]!r}); call it again with a JSON object."
            )
        return await tool.call(call.arguments), None
    except BudgetExceeded as exc:
        tracing.event("hashiru.budget_refused", **{"hashiru.reason": str(exc)})
        return None, str(exc)
    except HashiruError as exc:  # ToolFailure included: the model's to fix
        return None, str(exc)
    except Exception as exc:  # a tool's bug must not end the CEO's run
        return None, f"{call.name} crashed: {type(exc).__name__}: {exc}"


def _tool_span(call: ToolCall) -> dict[str, object]:
    """An `execute_tool` span's attributes; the arguments only when content is traced."""
    attributes: dict[str, object] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
    }
    if tracing.content_traced():
        attributes["gen_ai.tool.call.arguments"] = tracing.as_text(call.arguments)
    return attributes


def _with_notices(result: ToolResult, notes: list[str]) -> ToolResult:
    """Add notes to a tool result's JSON, so every provider's tool turn carries them."""
    value = json.loads(result.content)
    value = value if isinstance(value, dict) else {"result": value}
    return result.model_copy(update={"content": to_json(value | {"notices": notes})})
