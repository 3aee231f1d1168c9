"""The hired employees, kept in `HASHIRU_HOME/agents.json` so they survive restarts.

Writes are atomic (write a temporary file, then rename), so a crash never leaves half a roster.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from hashiru.errors import AgentError, ConfigError
from hashiru.messages import Message, Usage

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Employee(BaseModel):
    """A named agent on a base model with its own system prompt and conversation."""

    name: str
    model: str
    system_prompt: str
    description: str = ""
    local: bool = True
    hired_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    history: list[Message] = Field(default_factory=list)
    calls: int = 0
    failures: int = 0
    usage: Usage = Field(default_factory=Usage)

    def summary(self) -> dict[str, object]:
        return self.model_dump(
            include={"name", "model", "description", "local", "calls", "failures"}
        ) | {"input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens}


_EMPLOYEES = TypeAdapter(list[Employee])


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise AgentError(f"Invalid agent name {name!r}: use 1-64 letters, digits, '-' or '_'.")


class Roster:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._employees: dict[str, Employee] = {}
        if path.is_file():
            try:
                loaded = _EMPLOYEES.validate_json(path.read_bytes())
            except ValidationError as exc:
                raise ConfigError(
                    f"{path} is damaged ({exc.errors()[0]['msg']}); fix it or move it away "
                    "to start with no employees."
                ) from None
            self._employees = {e.name: e for e in loaded}

    def __contains__(self, name: str) -> bool:
        return name in self._employees

    def __iter__(self):
        return iter(list(self._employees.values()))

    def __len__(self) -> int:
        return len(self._employees)

    def get(self, name: str) -> Employee:
        try:
            return self._employees[name]
        except KeyError:
            hired = ", ".join(self._employees) or "nobody yet"
            raise AgentError(f"No employee named {name!r} (hired: {hired}).") from None

    def add(self, employee: Employee) -> None:
        check_name(employee.name)
        if employee.name in self._employees:
            raise AgentError(f"An employee named {employee.name!r} already exists.")
        self._employees[employee.name] = employee
        self.save()

    def remove(self, name: str) -> Employee:
        employee = self.get(name)
        del self._employees[name]
        self.save()
        return employee

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = _EMPLOYEES.dump_json(list(self._employees.values()), indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".agents-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, self.path)
