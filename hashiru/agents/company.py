"""The employees as a business: hire (checking the model and paying first), ask, fire.

Hiring validates the model with its provider up front, so a typo fails the hire rather than
the first question, and pays for it in the ledger: a cloud employee's hire fee, a local one's
memory. The ledger is written before the roster, so after a crash between the two the ledger
may know a hire the roster lacks; `reconcile` closes it on start. Each employee answers one
question at a time, so its conversation stays in order when the CEO asks several at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from contextlib import aclosing
from decimal import Decimal

from pydantic import BaseModel

from hashiru.agents.context import ContextWindows, Emit
from hashiru.agents.events import ModelPulling
from hashiru.agents.metering import Meter
from hashiru.agents.roster import Employee, Roster, check_name
from hashiru.agents.staffing import TYPICAL_ASK, Choice, Offer, choose
from hashiru.agents.toolsmith import Approver, ToolRequest, refuse_all
from hashiru.economy.ledger import NO_RUN, BudgetState, Ledger, Placement
from hashiru.economy.outcomes import Ask, Outcomes, ScoreLine, check_kind
from hashiru.economy.prices import PriceBook
from hashiru.economy.resources import gib
from hashiru.errors import AgentError, BudgetExceeded, ProviderError
from hashiru.messages import Message, Usage
from hashiru.providers import ModelInfo, Provider, Providers
from hashiru.providers.discovery import survey
from hashiru.settings import PullMode, RunPolicy


def _typical(record: dict[str, ScoreLine]) -> Usage:
    """The tokens an ask of this kind has taken, averaged over every model's asks of it."""
    asks = sum(line.asks for line in record.values())
    if not asks:
        return TYPICAL_ASK
    return Usage(
        input_tokens=sum(line.mean_input_tokens * line.asks for line in record.values()) // asks,
        output_tokens=sum(line.mean_output_tokens * line.asks for line in record.values()) // asks,
    )


def _host_failure(employee: Employee, exc: ProviderError) -> ProviderError | None:
    """What to do when the host an employee's model is loaded on stops answering: the hire
    is tied to that host, so the way out is a new hire, which goes to a host that answers."""
    if not employee.host or exc.kind not in ("connection", "timeout"):
        return None
    return ProviderError(
        exc.provider,
        exc.kind,
        f"{employee.name!r} runs on {employee.host}, which is not answering ({exc}). Fire it "
        f"and hire again on {employee.model}: a hire goes to a host that answers.",
    )


class Reply(BaseModel):
    agent: str
    answer: str
    usage: Usage
    seconds: float
    cost_usd: Decimal
    ask_id: int
    kind: str


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
        outcomes: Outcomes,
        answer_value_usd: Decimal,
        ollama_pull: PullMode = "ask",
    ) -> None:
        self.providers = providers
        self.windows = windows
        self.roster = roster
        self.ledger = ledger
        self.prices = prices
        self.hire_fee_usd = hire_fee_usd
        self.outcomes = outcomes
        self.answer_value_usd = answer_value_usd
        self.ollama_pull = ollama_pull
        self.rng = random.Random()  # Thompson sampling's draws; a test may seed it
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
        self,
        meter: Meter,
        name: str,
        model: str,
        system_prompt: str,
        description: str,
        kind: str = "other",
        approve: Approver = refuse_all,
        emit: Emit | None = None,
    ) -> Hire:
        """Check the model, pay the fee (or load its memory, on a host with room) within the
        workspace's budgets and the run's cap, then add the employee (hired for `kind` of task)
        to the roster. An Ollama model no host has is downloaded first where `ollama_pull`
        allows (`approve` is asked when it says "ask"), its progress emitted."""
        check_name(name)
        if await asyncio.to_thread(self.roster.__contains__, name):
            raise AgentError(f"An employee named {name!r} already exists; ask or fire it.")
        policy = meter.policy
        provider_name, model_name = self.providers.parse_ref(model)
        provider = self.providers.get(provider_name)
        if not self.may_hire(policy, provider.local):
            kind = "local" if provider.local else "cloud"
            raise AgentError(f"Hiring {kind} agents is switched off; choose another model.")
        if reason := provider.unavailable_reason():
            raise AgentError(f"Cannot hire on {provider_name}: {reason}.")
        places = await self._placements(meter, provider, model_name, approve, emit)
        paid = not provider.local and not provider.replayed  # a replay costs nothing
        if paid:
            self.prices.require(provider_name, model_name)
        fee = self.hire_fee_usd if paid else Decimal(0)
        placed = await asyncio.to_thread(
            self.ledger.hire,
            run_id=meter.run_id,
            agent=name,
            model=model,
            provider=provider_name,
            fee_usd=fee,
            placements=[
                Placement(info.host, (info.memory_bytes or 0) if provider.local else 0)
                for info in places
            ],
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
            kind=check_kind(kind),
            host=placed.host,
        )
        try:
            await asyncio.to_thread(self.roster.add, employee)
        except AgentError:  # another process hired the name first
            await asyncio.to_thread(self.ledger.fire, run_id=meter.run_id, agent=name)
            raise
        return Hire(employee=employee, fee_usd=fee, memory_bytes=placed.memory_bytes)

    async def _placements(
        self,
        meter: Meter,
        provider: Provider,
        model: str,
        approve: Approver,
        emit: Emit | None,
    ) -> list[ModelInfo]:
        """Where `model` could be loaded; pulled first when no host has it and that is allowed."""
        try:
            return await provider.placements(model)
        except ProviderError as exc:
            if exc.kind != "not_found" or not provider.can_pull:
                raise
            missing = str(exc)
        await self._pull(meter, provider, model, missing, approve, emit)
        return await provider.placements(model)

    async def _pull(
        self,
        meter: Meter,
        provider: Provider,
        model: str,
        missing: str,
        approve: Approver,
        emit: Emit | None,
    ) -> None:
        """Download `model` onto the host with the most free memory, stopping as soon as it
        is known to be bigger than that (when the resource budget is enforced)."""
        ref = f"{provider.name}:{model}"
        if self.ollama_pull == "never":
            raise AgentError(f'{missing}. Pulling on hire is off (ollama_pull = "never").')
        budget = await asyncio.to_thread(self.ledger.state)
        host = max(provider.pull_hosts(), key=lambda h: budget.budget_of(h).free_bytes)
        where = host or provider.config.base_url or "this machine"
        if self.ollama_pull == "ask":
            request = ToolRequest(
                name=ref,
                description=f"Hiring on {ref} needs it downloaded from the Ollama library.",
                pull_host=where,
            )
            if not await approve(request):
                raise AgentError(
                    f'{missing}. Downloading it was not approved (ollama_pull = "ask"); run '
                    f"`ollama pull {model}` on a host, or hire on a model that is there."
                )
        free = budget.budget_of(host).free_bytes
        async with aclosing(provider.at(host).pull(model)) as steps:
            async for step in steps:
                if emit is not None:
                    emit(
                        ModelPulling(
                            **step.model_dump(exclude={"model", "host"}), model=ref, host=where
                        )
                    )
                if meter.policy.enable_resource_budget and step.total > free:
                    raise BudgetExceeded(
                        f"{ref} is at least {gib(step.total)} GiB, more than the {gib(free)} GiB "
                        f"free on {where}, so its download was stopped. Fire employees there, "
                        "or hire a smaller model."
                    )

    async def ask(
        self, meter: Meter, name: str, prompt: str, emit: Emit, kind: str | None = None
    ) -> Reply:
        """Ask `name`; its whole conversation is kept, and each request fitted to its window.

        Every ask is filed in the scorecard under `kind` (default: what the employee was hired
        for); one that errors or answers nothing is filed as failed.
        """
        async with self._desks[name]:
            employee = await asyncio.to_thread(self.roster.get, name)
            kind = check_kind(kind or employee.kind)
            question = Message.user(prompt)
            conversation = [Message.system(employee.system_prompt), *employee.history, question]
            model = await self.windows.kept(
                meter, name, employee.model, emit, lasting=True, host=employee.host
            )
            started = time.monotonic()
            try:
                response, cost = await model.complete_with_cost(conversation)
            except ProviderError as exc:
                seconds = time.monotonic() - started
                await asyncio.to_thread(self.roster.record, name, seconds)
                why = str(exc)[:300]
                await self._file(meter, employee, kind, Usage(), Decimal(0), seconds, why)
                if failure := _host_failure(employee, exc):
                    raise failure from exc
                raise
            seconds = time.monotonic() - started
            exchange = (question, response.as_message())
            await asyncio.to_thread(self.roster.record, name, seconds, exchange, response.usage)
            failure = "" if response.text.strip() else "it gave an empty answer"
            ask_id = await self._file(meter, employee, kind, response.usage, cost, seconds, failure)
        return Reply(
            agent=name,
            answer=response.text,
            usage=response.usage,
            seconds=round(seconds, 3),
            cost_usd=cost,
            ask_id=ask_id,
            kind=kind,
        )

    async def _file(
        self,
        meter: Meter,
        employee: Employee,
        kind: str,
        usage: Usage,
        cost: Decimal,
        seconds: float,
        failure: str,
    ) -> int:
        """One ask's outcome in the scorecard; `failure` says why it failed ("" if it did not)."""
        return await asyncio.to_thread(
            self.outcomes.record_ask,
            run_id=meter.run_id,
            agent=employee.name,
            model=employee.model,
            kind=kind,
            usage=usage,
            usd=cost,
            seconds=round(seconds, 3),
            failed=bool(failure),
            note=failure,
        )

    async def rate(self, run_id: str, name: str, verdict: str, note: str) -> Ask:
        """Judge `name`'s latest answer in this run; AgentError when it gave none."""
        asks = await asyncio.to_thread(self.outcomes.asks, run_id=run_id, agent=name, last=1)
        if not asks:
            await asyncio.to_thread(self.roster.get, name)  # AgentError for a name not hired
            raise AgentError(f"{name!r} has not answered in this run; ask it before rating it.")
        return await asyncio.to_thread(self.outcomes.rate, asks[0].id, verdict, "ceo", note)

    async def recent_verdicts(self, employee: Employee, last: int = 5) -> list[str]:
        """The verdicts on the employee's latest asks since it was hired, oldest first."""
        asks = await asyncio.to_thread(
            self.outcomes.asks,
            agent=employee.name,
            model=employee.model,
            since=employee.hired_at,
            last=last,
        )
        return [ask.verdict or "unjudged" for ask in asks]

    async def recommend(
        self, meter: Meter, kind: str, models: list[ModelInfo] | None = None
    ) -> Choice:
        """The model `auto:<kind>` hires now, of `models` (default: every hireable one): see
        `staffing.choose`."""
        check_kind(kind)

        def read() -> tuple[dict[str, ScoreLine], set[str], BudgetState]:
            record = {line.model: line for line in self.outcomes.scorecard(kind)}
            return record, self.outcomes.judged_bad(meter.run_id, kind), self.ledger.state()

        models = await self.hireable_models(meter.policy) if models is None else models
        record, judged_bad, budget = await asyncio.to_thread(read)
        offers = [self._offer(info, record, budget, meter.policy) for info in models]
        return choose(kind, offers, record, self.answer_value_usd, self.rng, judged_bad)

    def _offer(
        self, info: ModelInfo, record: dict[str, ScoreLine], budget: BudgetState, policy: RunPolicy
    ) -> Offer:
        """What an ask of `info` is expected to cost, and whether the budgets allow a hire."""
        if info.local:
            line = record.get(info.ref)
            cost: Decimal | None = self.prices.local_cost(line.mean_seconds if line else 0.0)
            places = [Placement(host, info.memory_bytes or 0) for host in info.hosts or [""]]
            short = policy.enable_resource_budget and budget.place(info.ref, places) is None
            why = "not enough free memory to load it" if short else None
        else:
            model = info.ref.split(":", 1)[1]
            if self.prices.price(info.provider, model) is None:
                return Offer(ref=info.ref, local=False, usd_per_ask=None)  # passed over: unpriced
            cost = self.prices.cost(info.provider, model, _typical(record))
            short = policy.enable_economy_budget and self.hire_fee_usd + cost > budget.usd_free
            why = "the budget cannot pay its hire fee and an ask" if short else None
        return Offer(ref=info.ref, local=info.local, usd_per_ask=cost, unavailable=why)

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
