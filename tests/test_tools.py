from typing import Annotated

import pytest
from pydantic import Field

from hashiru.tools import ToolFailure, tool


async def greet(
    name: Annotated[str, Field(description="who")],
    times: int = 1,
    style: Annotated[str, Field(json_schema_extra={"enum": ["plain", "loud"]})] = "plain",
    title: str = "",
) -> dict:
    """Greet someone.

    Longer notes that the model does not need.
    """
    text = " ".join([f"hi {title}{name}"] * times)
    return {"text": text.upper() if style == "loud" else text}


def test_schema_comes_from_type_hints_without_titles() -> None:
    greeter = tool(greet)
    assert greeter.name == "greet"
    assert greeter.description == "Greet someone."
    params = greeter.parameters
    assert params["required"] == ["name"]
    assert params["properties"]["name"] == {"description": "who", "type": "string"}
    assert params["properties"]["style"]["enum"] == ["plain", "loud"]
    assert "title" in params["properties"], "a parameter named title must survive"
    assert "title" not in params and "title" not in params["properties"]["times"]


async def test_call_validates_then_runs() -> None:
    greeter = tool(greet)
    assert await greeter.call({"name": "Ada", "times": 2}) == {"text": "hi Ada hi Ada"}
    with pytest.raises(ToolFailure) as caught:
        await greeter.call({"times": "two", "style": "shout"})
    message = str(caught.value)
    assert "'name' is a required property" in message
    assert "times: 'two' is not of type 'integer'" in message
    assert "style: 'shout' is not one of" in message
