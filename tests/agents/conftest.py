"""Build a Hashiru whose CEO and employees are scripted models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings

MakeCompany = Callable[..., Hashiru]


def call(tool: str, /, **arguments: object) -> dict:
    return {"name": tool, "arguments": arguments}


def hire(name: str, model: str = "", system_prompt: str = "s") -> dict:
    """A hire_agent call; the model defaults to the scripted model of the same name."""
    return call(
        "hire_agent",
        name=name,
        model=model or f"scripted:{name}",
        system_prompt=system_prompt,
        description="d",
    )


@pytest.fixture
async def make_hashiru() -> AsyncIterator[MakeCompany]:
    """Makes runtimes, and stops their sandbox workers when the test ends."""
    made: list[Hashiru] = []

    def make(scripts: dict[str, Script], **settings: object) -> Hashiru:
        config = Settings.load(ceo_model="scripted:ceo", **settings)
        made.append(Hashiru.from_settings(config, [ScriptedProvider(scripts)]))
        return made[-1]

    yield make
    for hashiru in made:
        await hashiru.aclose()
