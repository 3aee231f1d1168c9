"""Checks a generated tool must pass before it runs, and the Tool a registered one becomes.

Every check fails with a message the CEO can act on: the rule broken, and the line where the
code is concerned. The sandbox enforces the same rules again at run time; these checks exist
so that mistakes are reported at creation, precisely, instead of as a failed call later.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

from hashiru.tools.base import Tool, ToolFailure
from hashiru.tools.registry import NAME_PATTERN, ToolManifest
from hashiru.tools.sandbox import Sandbox

FORBIDDEN_IMPORTS = frozenset(
    {"ctypes", "_ctypes", "subprocess", "_posixsubprocess", "multiprocessing", "pty"}
)
NETWORK_IMPORTS = frozenset(
    {"socket", "ssl", "http", "urllib", "ftplib", "smtplib", "poplib", "imaplib", "xmlrpc"}
)


def check_name(name: str, taken: Collection[str]) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise ToolFailure(
            f"invalid tool name {name!r}: use 2-49 characters, lowercase letters, digits and _, "
            "starting with a letter"
        )
    if name in taken:
        raise ToolFailure(f"{name!r} is a built-in tool; choose another name")


def check_schema(parameters: Any) -> None:
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise ToolFailure('parameters must be a JSON Schema object: {"type": "object", ...}')
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "parameters"
        raise ToolFailure(
            f"parameters is not a valid JSON Schema at {where}: {exc.message}"
        ) from None


def check_code(code: str, allowed_imports: Collection[str], needs_network: bool) -> None:
    """The code parses, defines `run`, and imports only what tools may import."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ToolFailure(f"line {exc.lineno}: SyntaxError: {exc.msg}") from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == "run" for n in tree.body):
        raise ToolFailure("the code must define a top-level function run(**arguments)")
    for node in ast.walk(tree):
        for module in _imported(node):
            _check_import(module, node.lineno, allowed_imports, needs_network)


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module.split(".")[0]]
    return []


def _check_import(module: str, line: int, allowed: Collection[str], needs_network: bool) -> None:
    if module in FORBIDDEN_IMPORTS:
        raise ToolFailure(f"line {line}: importing {module} is not allowed in a tool")
    if module in NETWORK_IMPORTS and not needs_network:
        raise ToolFailure(
            f"line {line}: {module} is for the network; declare needs_network=true "
            "(the user must approve it)"
        )
    if module not in sys.stdlib_module_names and module not in allowed:
        raise ToolFailure(
            f"line {line}: {module} is not in the standard library or the allowed imports "
            "(setting tool_imports)"
        )


def as_tool(manifest: ToolManifest, code: str, sandbox: Sandbox) -> Tool:
    """A registered tool, callable like a built-in: each call runs in the sandbox."""

    async def call(**arguments: Any) -> Any:
        return await sandbox.call_tool(code, arguments, allow_network=manifest.needs_network)

    return Tool(manifest.name, manifest.description, manifest.parameters, call)
