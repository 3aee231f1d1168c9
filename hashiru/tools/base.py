"""One tool protocol for every tool, built-in or (later) generated.

A tool's arguments are checked against its JSON Schema before it runs, so a model's malformed
call becomes a precise observation for the model instead of an exception in the loop.
Built-in tools are typed Python functions; pydantic writes their schemas.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, create_model

from hashiru.errors import HashiruError
from hashiru.messages import ToolSpec

Handler = Callable[..., Awaitable[Any]]


class ToolFailure(HashiruError):
    """A tool could not do what was asked; the message goes back to the model as its result."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    def check_arguments(self, arguments: dict[str, Any]) -> None:
        """Raise ToolFailure naming every way `arguments` breaks the schema."""
        errors = sorted(
            Draft202012Validator(self.parameters).iter_errors(arguments), key=lambda e: e.path
        )
        if errors:
            details = "; ".join(
                f"{'/'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors
            )
            raise ToolFailure(f"invalid arguments for {self.name}: {details}")

    async def call(self, arguments: dict[str, Any]) -> Any:
        self.check_arguments(arguments)
        return await self.handler(**arguments)


def tool(handler: Handler, name: str | None = None) -> Tool:
    """Make a Tool of an async function: its docstring describes it, its type hints its schema.

    Parameter descriptions come from `Annotated[str, Field(description=...)]`.
    """
    description, parameters = _described(handler)
    return Tool(
        name=name or handler.__name__,
        description=description,
        parameters=parameters,
        handler=handler,
    )


_described_by_code: dict[CodeType, tuple[str, dict[str, Any]]] = {}


def _described(handler: Handler) -> tuple[str, dict[str, Any]]:
    """The description and the arguments' JSON Schema, built once per function body.

    Tools are often closures made afresh for every step; closures of one `def` share its code,
    docstring and annotations, and pydantic takes about a millisecond per schema.
    """
    code = handler.__code__
    if code not in _described_by_code:
        params = {
            p.name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
            for p in inspect.signature(handler, eval_str=True).parameters.values()
        }
        model = create_model(f"{handler.__name__}_arguments", **params)
        description = inspect.cleandoc(handler.__doc__ or "").split("\n\n")[0]
        _described_by_code[code] = (description, _without_titles(model.model_json_schema()))
    return _described_by_code[code]


def _without_titles(schema: Any, is_properties: bool = False) -> Any:
    """Drop pydantic's generated titles: they repeat the names and cost prompt characters.

    Keys of a `properties` mapping are argument names, so a parameter called `title` stays.
    """
    if isinstance(schema, dict):
        return {
            k: _without_titles(v, is_properties=k == "properties" and not is_properties)
            for k, v in schema.items()
            if is_properties or k != "title"
        }
    if isinstance(schema, list):
        return [_without_titles(v) for v in schema]
    return schema


def to_json(value: Any) -> str:
    """Tool results travel to models as compact JSON text (typed reports as their fields)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_ready)


def json_ready(value: Any) -> Any:
    """`json.dumps`'s `default` for tool results: typed reports as their fields, exact values
    (Decimal, Path, datetime) as their text."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    return str(value)
