"""An MCP tool's result as the JSON value a HASHIRU tool returns, never too large to hold.

Structured content is the value when a server sends it (its text content only repeats it);
otherwise text parts are their text, and images, audio and embedded files are described (type,
MIME type, size), never inlined: a model cannot use base64. A result longer than
MAX_RESULT_CHARS as JSON is cut to its head and says so; the context keeper may shorten it
further to fit a model's window, but a 10 MB result never reaches the run's events, transcript
or conversation store whole.
"""

from __future__ import annotations

from typing import Any

from mcp import types

from hashiru.tools.base import to_json

MAX_RESULT_CHARS = 100_000
"""The most characters of one MCP result a run keeps (about 25,000 tokens)."""
MAX_ERROR_CHARS = 2_000
"""The most characters of a server's error message passed on."""


def result_value(result: types.CallToolResult) -> Any:
    """The JSON value of a successful call (the caller raises for `is_error`)."""
    if result.structured_content is not None:
        value: Any = result.structured_content
    else:
        parts = [_part(block) for block in result.content]
        value = parts[0] if len(parts) == 1 else parts
    return capped(value)


def error_text(result: types.CallToolResult) -> str:
    """What a failed call said, in one bounded piece of text."""
    said = " ".join(
        block.text if isinstance(block, types.TextContent) else to_json(_part(block))
        for block in result.content
    )
    said = said.strip() or "no detail given"
    return said if len(said) <= MAX_ERROR_CHARS else f"{said[:MAX_ERROR_CHARS]} [… cut]"


def capped(value: Any) -> Any:
    """`value`, or its JSON's first MAX_RESULT_CHARS characters with a note saying it was cut."""
    text = value if isinstance(value, str) else to_json(value)
    if len(text) <= MAX_RESULT_CHARS:
        return value
    return {
        "truncated": True,
        "note": f"the result was {len(text):,} characters; only the first "
        f"{MAX_RESULT_CHARS:,} are kept. Ask the tool for less (a range, a filter, a page).",
        "head": text[:MAX_RESULT_CHARS],
    }


def _part(block: types.ContentBlock) -> Any:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        return {"type": block.type, "mime_type": block.mime_type, "bytes": _size(block.data)}
    if isinstance(block, types.ResourceLink):
        return {"type": "resource_link", "uri": str(block.uri), "name": block.name}
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        described = {"type": "resource", "uri": str(resource.uri), "mime_type": resource.mime_type}
        if isinstance(resource, types.TextResourceContents):
            return described | {"text": resource.text}
        return described | {"bytes": _size(resource.blob)}
    return {"type": getattr(block, "type", "unknown")}


def _size(base64_data: str) -> int:
    """Bytes of base64 data, without decoding it."""
    return len(base64_data) * 3 // 4 - base64_data[-2:].count("=")
