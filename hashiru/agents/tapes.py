"""Tools whose answers come from outside (the web, MCP servers) on a cassette: recorded as they
answer, or played back so that a replayed run needs neither the network nor the servers.

Other tools answer from this workspace (its ledger, team, files) and run for real in a replay.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Literal

from hashiru.errors import HashiruError
from hashiru.providers.cassette import Cassette, RecordedTool
from hashiru.tools import Tool, ToolFailure
from hashiru.tools.base import to_json

OUTSIDE = frozenset({"fetch_url", "web_search"})
"""The built-in tools that answer from outside; every MCP tool does too."""


def taped(
    tool: Tool, cassette: Cassette, replay: Literal["", "only", "new"], played: set[int]
) -> Tool:
    """`tool`, its calls written into `cassette`, or answered from it (`replay`; with "new",
    a call it lacks goes to the tool and is written in)."""

    async def recording(**arguments: Any) -> Any:
        try:
            value = await tool.handler(**arguments)
        except HashiruError as exc:
            cassette.tools.append(RecordedTool(name=tool.name, arguments=arguments, error=str(exc)))
            raise
        result = json.loads(to_json(value))
        cassette.tools.append(RecordedTool(name=tool.name, arguments=arguments, result=result))
        return value

    async def playing(**arguments: Any) -> Any:
        for index, call in enumerate(cassette.tools):
            if index not in played and (call.name, call.arguments) == (tool.name, arguments):
                played.add(index)
                if call.error is not None:
                    raise ToolFailure(call.error)
                return call.result
        if replay == "new":
            return await recording(**arguments)
        raise ToolFailure(
            f"the cassette has no call of {tool.name} with these arguments: the replay asks "
            "what the recording did not"
        )

    return replace(tool, handler=playing if replay else recording)
