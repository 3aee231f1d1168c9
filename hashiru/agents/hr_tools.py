"""The CEO's tools for its workforce and its money.

hire_agent, ask_agent, rate_agent, fire_agent, list_agents, list_models and get_budget wrap the
Company and the run's Meter: they record what the run hired, emit hire and fire events, and tell
the CEO what each hire and question cost, what is left, and how well each model has done on
each kind of task, so it can trade quality against money on evidence.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from hashiru.agents.company import Company
from hashiru.agents.events import AgentFired, AgentHired, EmployeeAnswer, HireReceipt
from hashiru.agents.loop import Emit
from hashiru.agents.metering import Meter
from hashiru.agents.staffing import auto_kind
from hashiru.agents.toolsmith import Approver, refuse_all
from hashiru.economy.ledger import BudgetState
from hashiru.economy.outcomes import KINDS
from hashiru.economy.resources import gib
from hashiru.errors import AgentError
from hashiru.messages import Usage
from hashiru.tools import Tool, tool

TOOL_NAMES = (
    "get_budget",
    "ask_agent",
    "rate_agent",
    "list_agents",
    "list_models",
    "hire_agent",
    "fire_agent",
)
"""Every tool this module can offer, whatever the switches: generated tools may not take them."""
THIS_MACHINE_LABEL = "this machine"
"""How the memory budget of models loaded here is named where hosts are listed."""
KIND_LIST = ", ".join(KINDS)
"""The task kinds, as the tools' schemas name them (free text: a bad kind is a clear error)."""


class HiredAgent(BaseModel):
    name: str
    model: str
    local: bool


class Workforce(BaseModel):
    """What a run did with employees: who it hired and what asking them cost in tokens."""

    hired: list[HiredAgent] = Field(default_factory=list)
    usage: dict[str, Usage] = Field(default_factory=dict)


def budget_summary(state: BudgetState) -> dict[str, Any]:
    """Both budgets as the CEO and `hashiru budget --json` see them."""
    return {
        "expense_usd": {
            "total": state.usd_total,
            "spent": state.usd_spent,
            "reserved": state.usd_reserved,
            "free": state.usd_free,
        },
        "resource_gib": {
            "total": gib(state.memory_total_bytes),
            "used": gib(state.memory_used_bytes),
            "free": gib(state.memory_free_bytes),
        },
        "spent_by_agent_usd": state.spent_by_agent,
        **({"resource_gib_by_host": _hosts(state)} if len(state.budgets) > 1 else {}),
    }


def _hosts(state: BudgetState) -> dict[str, dict[str, Any]]:
    """Each host's memory budget (this machine's too), with the models loaded under it."""
    return {
        host or THIS_MACHINE_LABEL: {
            "total": gib(budget.total_bytes),
            "used": gib(budget.used_bytes),
            "free": gib(budget.free_bytes),
            "models": {model: gib(size) for model, size in budget.models.items()},
        }
        for host, budget in state.budgets.items()
    }


def hr_tools(
    company: Company, meter: Meter, workforce: Workforce, emit: Emit, approve: Approver = refuse_all
) -> list[Tool]:
    """get_budget, and the workforce tools the run's policy allows (none when no agent may be
    hired); `approve` is asked before a hire downloads a model."""
    policy = meter.policy

    async def state() -> BudgetState:
        return await asyncio.to_thread(company.ledger.state)

    async def free(host: str = "") -> dict[str, Decimal]:
        """What is left: dollars, and memory where `host`'s models are loaded."""
        now = await state()
        return {"usd_free": now.usd_free, "memory_free_gib": gib(now.budget_of(host).free_bytes)}

    async def hire_agent(
        name: Annotated[str, Field(description="Unique: letters, digits, - or _")],
        model: Annotated[
            str, Field(description="provider:model from list_models, or auto:<kind>: see below")
        ],
        system_prompt: Annotated[str, Field(description="The employee's role and rules")],
        description: Annotated[str, Field(description="One line: what it is for")],
    ) -> HireReceipt:
        """Hire an employee on a model; it keeps its conversation until fired. auto:<kind>
        hires the model with the best record for the money on that kind of task."""
        kind, choice = auto_kind(model), None
        if kind is not None:
            choice = await company.recommend(meter, kind)
            if choice.ref is None:
                raise AgentError(f"auto:{kind} found no model to hire: {choice.reason}.")
            model = choice.ref
        hire = await company.hire(
            meter, name, model, system_prompt, description, kind or "other", approve, emit
        )
        local = hire.employee.local
        workforce.hired.append(HiredAgent(name=name, model=model, local=local))
        emit(AgentHired(name=name, model=model))
        return HireReceipt(
            hired=name,
            model=model,
            local=local,
            hire_fee_usd=hire.fee_usd,
            memory_gib=gib(hire.memory_bytes),
            **await free(hire.employee.host),
            choice=choice,
            host=hire.employee.host,
        )

    async def ask_agent(
        name: Annotated[str, Field(description="A hired employee")],
        prompt: Annotated[str, Field(description="A complete, self-contained request")],
        kind: Annotated[str, Field(description=f"{KIND_LIST}; default: its hire's")] = "",
    ) -> EmployeeAnswer:
        """Ask an employee; ask several in one step to run them in parallel."""
        reply = await company.ask(meter, name, prompt, emit, kind or None)
        workforce.usage[name] = workforce.usage.get(name, Usage()) + reply.usage
        return EmployeeAnswer(
            agent=name,
            answer=reply.answer,
            seconds=reply.seconds,
            cost_usd=reply.cost_usd,
            **await free(),
            ask_id=reply.ask_id,
            kind=reply.kind,
        )

    async def rate_agent(
        name: Annotated[str, Field(description="An employee you asked")],
        verdict: Literal["good", "bad"],
        note: str = "",
    ) -> dict[str, Any]:
        """Rate an employee's latest answer once you have checked it; ratings steer auto:<kind>
        hires."""
        ask = await company.rate(meter.run_id, name, verdict, note)
        lines = await asyncio.to_thread(company.outcomes.scorecard, ask.kind, [ask.model])
        return {
            "rated": name,
            "verdict": verdict,
            "ask_id": ask.id,
            "record": lines[0].summary(),
        }

    async def fire_agent(name: Annotated[str, Field(description="A hired employee")]) -> dict:
        """Fire an employee that is idle or failing, freeing the memory it occupies."""
        employee = await company.fire(meter.run_id, name)
        emit(AgentFired(name=name, model=employee.model))
        return {"fired": name, **await free()}

    async def list_agents() -> list[dict[str, Any]]:
        """The hired employees: model, kind, calls, failures, tokens, spend, latency, and the
        verdicts on their latest answers."""
        now, employees = await asyncio.to_thread(
            lambda: (company.ledger.state(), list(company.roster))
        )
        spent = now.spent_by_agent
        return [
            employee.summary()
            | {
                "spent_usd": spent.get(employee.name, Decimal(0)),
                "recent_verdicts": await company.recent_verdicts(employee),
            }
            for employee in employees
        ]

    async def list_models(
        kind: Annotated[str, Field(description=KIND_LIST)] = "",
    ) -> list[dict[str, Any]]:
        """Models you can hire: local (memory, and the hosts that have it) or cloud (hire fee
        and prices per M tokens); given a kind, each one's record on it and the one auto:<kind>
        would hire."""
        models = await company.hireable_models(policy)
        choice = await company.recommend(meter, kind, models) if kind else None
        numbers = {c.ref: c for c in choice.candidates} if choice else {}
        offers = []
        for info in models:
            offer: dict[str, Any] = {"ref": info.ref, "local": info.local}
            if info.context_tokens:
                offer["context_tokens"] = info.context_tokens
            if info.local:
                offer["memory_gib"] = gib(info.memory_bytes or 0)
                if info.hosts:
                    offer["hosts"] = info.hosts
            else:
                offer["hire_fee_usd"] = company.hire_fee_usd
                offer |= company.prices.describe(info.provider, info.ref.split(":", 1)[1])
            if choice is not None and info.ref in numbers:
                offer["record"] = numbers[info.ref].model_dump(exclude={"ref"}, exclude_none=True)
                if info.ref == choice.ref:
                    offer["recommended"] = choice.reason
            offers.append(offer)
        return offers

    async def get_budget() -> dict[str, Any]:
        """Both budgets (expense in USD, resource memory in GiB) and the spend per employee."""
        return budget_summary(await state())

    tools = [tool(get_budget)]
    if policy.enable_local_agents or policy.enable_cloud_agents:
        tools += [tool(ask_agent), tool(rate_agent), tool(list_agents), tool(list_models)]
        if policy.enable_agent_creation:
            tools += [tool(hire_agent), tool(fire_agent)]
    return tools
