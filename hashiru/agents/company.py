"""The employees as a business: hire (checking the model first), ask, fire, and what is hireable.

Hiring validates the model name and credentials with the provider up front, so a typo fails
the hire rather than the first question. Each employee answers one question at a time, so its
conversation stays in order even when the CEO asks several employees at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from pydantic import BaseModel

from hashiru.agents.roster import Employee, Roster, check_name
from hashiru.errors import AgentError, ProviderError
from hashiru.messages import Message, Usage
from hashiru.providers import ModelInfo, Providers, parse_ref
from hashiru.providers.discovery import survey
from hashiru.settings import Settings


class Reply(BaseModel):
    agent: str
    answer: str
    usage: Usage
    seconds: float


class Company:
    def __init__(self, settings: Settings, providers: Providers, roster: Roster) -> None:
        self.settings = settings
        self.providers = providers
        self.roster = roster
        self._desks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def may_hire(self, local: bool) -> bool:
        return self.settings.enabled("local_agents" if local else "cloud_agents")

    async def hire(self, name: str, model: str, system_prompt: str, description: str) -> Employee:
        check_name(name)
        if name in self.roster:
            raise AgentError(f"An employee named {name!r} already exists; ask or fire it.")
        provider_name, model_name = parse_ref(model)
        provider = self.providers.get(provider_name)
        if not self.may_hire(provider.local):
            kind = "local" if provider.local else "cloud"
            raise AgentError(f"Hiring {kind} agents is switched off; choose another model.")
        if reason := provider.unavailable_reason():
            raise AgentError(f"Cannot hire on {provider_name}: {reason}.")
        await provider.describe(model_name)
        employee = Employee(
            name=name,
            model=model,
            system_prompt=system_prompt,
            description=description,
            local=provider.local,
        )
        self.roster.add(employee)
        return employee

    async def ask(self, name: str, prompt: str) -> Reply:
        employee = self.roster.get(name)
        async with self._desks[name]:
            question = Message.user(prompt)
            conversation = [Message.system(employee.system_prompt), *employee.history, question]
            started = time.monotonic()
            try:
                response = await self.providers.model(employee.model).complete(conversation)
            except ProviderError:
                employee.calls += 1
                employee.failures += 1
                raise
            else:  # a cancelled question leaves no trace: not counted, not in the history
                employee.calls += 1
                employee.history += [question, response.as_message()]
                employee.usage += response.usage
            finally:
                self.roster.save()
        return Reply(
            agent=name,
            answer=response.text,
            usage=response.usage,
            seconds=round(time.monotonic() - started, 3),
        )

    def fire(self, name: str) -> Employee:
        return self.roster.remove(name)

    async def hireable_models(self) -> list[ModelInfo]:
        """Every model a hire could use now, given the switches."""
        return [
            info
            for status in await survey(self.providers)
            if status.available and self.may_hire(status.local)
            for info in status.models
        ]
