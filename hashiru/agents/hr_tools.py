"""The CEO's tools for its workforce: hire_agent, ask_agent, fire_agent, list_agents, list_models.

They wrap the Company, record what this run hired and spent, and emit hire/fire events.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from hashiru.agents.company import Company
from hashiru.agents.events import AgentFired, AgentHired
from hashiru.agents.loop import Emit
from hashiru.messages import Usage
from hashiru.tools import Tool, tool


class HiredAgent(BaseModel):
    name: str
    model: str
    local: bool


class Workforce(BaseModel):
    """What a run did with employees: who it hired and what asking them cost."""

    hired: list[HiredAgent] = Field(default_factory=list)
    usage: dict[str, Usage] = Field(default_factory=dict)


def hr_tools(company: Company, workforce: Workforce, emit: Emit) -> list[Tool]:
    """The workforce tools the switches allow; none at all when no agent may be hired."""
    settings = company.settings
    if not (settings.enable_local_agents or settings.enable_cloud_agents):
        return []

    async def hire_agent(
        name: Annotated[str, Field(description="Unique: letters, digits, - or _")],
        model: Annotated[str, Field(description="provider:model from list_models")],
        system_prompt: Annotated[str, Field(description="The employee's role and rules")],
        description: Annotated[str, Field(description="One line: what it is for")],
    ) -> dict[str, Any]:
        """Hire an employee agent on a base model; it keeps its conversation until fired."""
        employee = await company.hire(name, model, system_prompt, description)
        workforce.hired.append(HiredAgent(name=name, model=model, local=employee.local))
        emit(AgentHired(name=name, model=model))
        return {"hired": name, "model": model, "local": employee.local}

    async def ask_agent(
        name: Annotated[str, Field(description="A hired employee")],
        prompt: Annotated[str, Field(description="A complete, self-contained request")],
    ) -> dict[str, Any]:
        """Ask an employee; ask several in one step to run them in parallel."""
        reply = await company.ask(name, prompt)
        workforce.usage[name] = workforce.usage.get(name, Usage()) + reply.usage
        return {"agent": name, "answer": reply.answer, "seconds": reply.seconds}

    async def fire_agent(name: Annotated[str, Field(description="A hired employee")]) -> dict:
        """Fire an employee that is idle or failing, freeing what it occupies."""
        employee = company.fire(name)
        emit(AgentFired(name=name, model=employee.model))
        return {"fired": name}

    async def list_agents() -> list[dict[str, Any]]:
        """The hired employees with their models, calls and failures."""
        return [employee.summary() for employee in company.roster]

    async def list_models() -> list[dict[str, Any]]:
        """Models you can hire: provider, local or cloud, context size, memory size."""
        return [
            info.model_dump(exclude_none=True, exclude={"description"})
            for info in await company.hireable_models()
        ]

    tools = [tool(ask_agent), tool(list_agents), tool(list_models)]
    if settings.enable_agent_creation:
        tools += [tool(hire_agent), tool(fire_agent)]
    return tools
