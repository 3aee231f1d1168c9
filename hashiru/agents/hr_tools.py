"""The CEO's tools for its workforce and its money.

hire_agent, ask_agent, fire_agent, list_agents, list_models and get_budget wrap the Company and
the run's Meter: they record what the run hired, emit hire and fire events, and tell the CEO
what each hire and question cost and what is left, so it can trade quality against money.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from hashiru.agents.company import Company
from hashiru.agents.events import AgentFired, AgentHired, EmployeeAnswer, HireReceipt
from hashiru.agents.loop import Emit
from hashiru.agents.metering import Meter
from hashiru.economy.ledger import BudgetState
from hashiru.economy.resources import gib
from hashiru.messages import Usage
from hashiru.tools import Tool, tool

TOOL_NAMES = ("get_budget", "ask_agent", "list_agents", "list_models", "hire_agent", "fire_agent")
"""Every tool this module can offer, whatever the switches: generated tools may not take them."""


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
    }


def hr_tools(company: Company, meter: Meter, workforce: Workforce, emit: Emit) -> list[Tool]:
    """get_budget, and the workforce tools the run's policy allows (none when no agent may be
    hired)."""
    policy = meter.policy

    async def state() -> BudgetState:
        return await asyncio.to_thread(company.ledger.state)

    async def free() -> dict[str, Decimal]:
        now = await state()
        return {"usd_free": now.usd_free, "memory_free_gib": gib(now.memory_free_bytes)}

    async def hire_agent(
        name: Annotated[str, Field(description="Unique: letters, digits, - or _")],
        model: Annotated[str, Field(description="provider:model from list_models")],
        system_prompt: Annotated[str, Field(description="The employee's role and rules")],
        description: Annotated[str, Field(description="One line: what it is for")],
    ) -> HireReceipt:
        """Hire an employee agent on a base model; it keeps its conversation until fired."""
        hire = await company.hire(meter, name, model, system_prompt, description)
        local = hire.employee.local
        workforce.hired.append(HiredAgent(name=name, model=model, local=local))
        emit(AgentHired(name=name, model=model))
        return HireReceipt(
            hired=name,
            model=model,
            local=local,
            hire_fee_usd=hire.fee_usd,
            memory_gib=gib(hire.memory_bytes),
            **await free(),
        )

    async def ask_agent(
        name: Annotated[str, Field(description="A hired employee")],
        prompt: Annotated[str, Field(description="A complete, self-contained request")],
    ) -> EmployeeAnswer:
        """Ask an employee; ask several in one step to run them in parallel."""
        reply = await company.ask(meter, name, prompt, emit)
        workforce.usage[name] = workforce.usage.get(name, Usage()) + reply.usage
        return EmployeeAnswer(
            agent=name,
            answer=reply.answer,
            seconds=reply.seconds,
            cost_usd=reply.cost_usd,
            **await free(),
        )

    async def fire_agent(name: Annotated[str, Field(description="A hired employee")]) -> dict:
        """Fire an employee that is idle or failing, freeing the memory it occupies."""
        employee = await company.fire(meter.run_id, name)
        emit(AgentFired(name=name, model=employee.model))
        return {"fired": name, **await free()}

    async def list_agents() -> list[dict[str, Any]]:
        """The hired employees: model, calls, failures, tokens, spend and mean latency."""
        now, employees = await asyncio.to_thread(
            lambda: (company.ledger.state(), list(company.roster))
        )
        spent = now.spent_by_agent
        return [
            employee.summary() | {"spent_usd": spent.get(employee.name, Decimal(0))}
            for employee in employees
        ]

    async def list_models() -> list[dict[str, Any]]:
        """Models you can hire: local (memory) or cloud (hire fee and prices per M tokens)."""
        offers = []
        for info in await company.hireable_models(policy):
            offer: dict[str, Any] = {"ref": info.ref, "local": info.local}
            if info.context_tokens:
                offer["context_tokens"] = info.context_tokens
            if info.local:
                offer["memory_gib"] = gib(info.memory_bytes or 0)
            else:
                offer["hire_fee_usd"] = company.hire_fee_usd
                offer |= company.prices.describe(info.provider, info.ref.split(":", 1)[1])
            offers.append(offer)
        return offers

    async def get_budget() -> dict[str, Any]:
        """Both budgets (expense in USD, resource memory in GiB) and the spend per employee."""
        return budget_summary(await state())

    tools = [tool(get_budget)]
    if policy.enable_local_agents or policy.enable_cloud_agents:
        tools += [tool(ask_agent), tool(list_agents), tool(list_models)]
        if policy.enable_agent_creation:
            tools += [tool(hire_agent), tool(fire_agent)]
    return tools
