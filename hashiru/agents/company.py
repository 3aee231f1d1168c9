"""The employees as a business: hire (checking the model and paying first), ask, fire.

Hiring validates the model with its provider up front, so a typo fails the hire rather than
the first question, and pays for it in the ledger: a cloud employee's hire fee, a local one's
memory. The ledger is written before the roster, so after a crash between the two the ledger
may know a hire the roster lacks; `reconcile` closes it on start. Each employee answers one
question at a time, so its conversation stays in order when the CEO asks several at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from decimal import Decimal

from pydantic import BaseModel

from hashiru.agents.context import ContextWindows, Emit
from hashiru.agents.metering import Meter
from hashiru.agents.roster import Employee, Roster, check_name
from hashiru.economy.ledger import NO_RUN, Ledger
from hashiru.economy.prices import PriceBook
from hashiru.errors import AgentError, ProviderError
from hashiru.messages import Message, Usage
from hashiru.providers import ModelInfo, Providers, parse_ref
from hashiru.providers.discovery import survey
from hashiru.settings import RunPolicy


class Reply(BaseModel):
    agent: str
    answer: str
    usage: Usage
    seconds: float
    cost_usd: Decimal


class Hire(BaseModel):
    employee: Employee
    fee_usd: Decimal
    memory_bytes: int


class Company:
    """The workspace's employees; what a hire may do comes from the run's policy (its Meter)."""

    def __init__(
        self,
        providers: Providers,
        roster: Roster,
        ledger: Ledger,
        prices: PriceBook,
        hire_fee_usd: Decimal,
        windows: ContextWindows,
    ) -> None:
        self.providers = providers
        self.windows = windows
        self.roster = roster
        self.ledger = ledger
        self.prices = prices
        self.hire_fee_usd = hire_fee_usd
        self._desks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.reconcile()

    def reconcile(self) -> None:
        """Fire, in the ledger, hires that never reached the roster (a crash between them)."""
        for agent in self.ledger.active_hires().keys() - {e.name for e in self.roster}:
            self.ledger.fire(run_id=NO_RUN, agent=agent)

    @staticmethod
    def may_hire(policy: RunPolicy, local: bool) -> bool:
        return policy.enabled("local_agents" if local else "cloud_agents")

    async def hire(
        self, meter: Meter, name: str, model: str, system_prompt: str, description: str
    ) -> Hire:
        """Check the model, pay the fee (or load its memory) within the workspace's budgets and
        the run's cap, then add the employee to the roster."""
        check_name(name)
        if await asyncio.to_thread(self.roster.__contains__, name):
            raise AgentError(f"An employee named {name!r} already exists; ask or fire it.")
        policy = meter.policy
        provider_name, model_name = parse_ref(model)
        provider = self.providers.get(provider_name)
        if not self.may_hire(policy, provider.local):
            kind = "local" if provider.local else "cloud"
            raise AgentError(f"Hiring {kind} agents is switched off; choose another model.")
        if reason := provider.unavailable_reason():
            raise AgentError(f"Cannot hire on {provider_name}: {reason}.")
        info = await provider.describe(model_name)
        if not provider.local:
            self.prices.require(provider_name, model_name)
        fee = Decimal(0) if provider.local else self.hire_fee_usd
        memory = (info.memory_bytes or 0) if provider.local else 0
        await asyncio.to_thread(
            self.ledger.hire,
            run_id=meter.run_id,
            agent=name,
            model=model,
            provider=provider_name,
            fee_usd=fee,
            memory_bytes=memory,
            run_limit_usd=policy.max_usd,
            enforce_usd=policy.enable_economy_budget,
            enforce_memory=policy.enable_resource_budget,
        )
        employee = Employee(
            name=name,
            model=model,
            system_prompt=system_prompt,
            description=description,
            local=provider.local,
        )
        try:
            await asyncio.to_thread(self.roster.add, employee)
        except AgentError:  # another process hired the name first
            await asyncio.to_thread(self.ledger.fire, run_id=meter.run_id, agent=name)
            raise
        return Hire(employee=employee, fee_usd=fee, memory_bytes=memory)

    async def ask(self, meter: Meter, name: str, prompt: str, emit: Emit) -> Reply:
        """Ask `name`; its whole conversation is kept, and each request fitted to its window."""
        async with self._desks[name]:
            employee = await asyncio.to_thread(self.roster.get, name)
            question = Message.user(prompt)
            conversation = [Message.system(employee.system_prompt), *employee.history, question]
            model = await self.windows.kept(meter, name, employee.model, emit, lasting=True)
            started = time.monotonic()
            try:
                response, cost = await model.complete_with_cost(conversation)
            except ProviderError:
                await asyncio.to_thread(self.roster.record, name, time.monotonic() - started)
                raise
            seconds = time.monotonic() - started
            exchange = (question, response.as_message())
            await asyncio.to_thread(self.roster.record, name, seconds, exchange, response.usage)
        return Reply(
            agent=name,
            answer=response.text,
            usage=response.usage,
            seconds=round(seconds, 3),
            cost_usd=cost,
        )

    async def fire(self, run_id: str, name: str) -> Employee:
        """Take `name` off the roster and end its hire in the ledger (freeing its memory)."""
        employee = await asyncio.to_thread(self.roster.remove, name)
        await asyncio.to_thread(self.ledger.fire, run_id=run_id, agent=name)
        self.windows.forget(name)
        return employee

    async def hireable_models(self, policy: RunPolicy) -> list[ModelInfo]:
        """Every model a hire could use now, given the policy's switches."""
        return [
            info
            for status in await survey(self.providers)
            if status.available and self.may_hire(policy, status.local)
            for info in status.models
        ]
