"""Tools the CEO can call: a name, a description, a JSON Schema, and a JSON result."""

from hashiru.tools.base import Tool, ToolFailure, tool

__all__ = ["Tool", "ToolFailure", "tool"]
