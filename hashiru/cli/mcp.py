"""`hashiru mcp`: configure the MCP servers whose tools the CEO uses, see them start, serve.

`add`, `remove`, `enable` and `disable` edit hashiru.toml (hashiru.config_file keeps the user's
comments, and refuses a bad server before writing). `list` and `test` start the servers and ask
for their tools. No value of a server's `env` or `headers` is ever printed: they are secrets, so
only their keys are shown.

`mcp list --json` prints an array, one object per server: `name`, `transport` ("stdio" or
"http"), `enabled`, `approval` ("always", "once" or "never", the default applied), `ok` (it
started and listed its tools), `error` (why not, else null), `command`, `args`, `cwd` (a stdio
server's, else null and []), `url` (an HTTP server's, its query hidden), `env` and `headers`
(their keys only), `timeout` (seconds), `tools` (each `name`, as the CEO calls it:
`<server>__<tool>`, and `description`) and `skipped` (tools left out, each with why).
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.markup import escape
from rich.table import Table

from hashiru.cli.output import console, errors
from hashiru.config_file import (
    Written,
    add_mcp_server,
    enable_mcp_server,
    remove_mcp_server,
)
from hashiru.errors import ConfigError
from hashiru.runtime import Hashiru
from hashiru.settings import McpServerSettings


async def mcp_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    home = hashiru.settings.home
    if args.action == "add":
        written = add_mcp_server(home, args.name, _values(args), replace=args.replace)
        console.print(f"Added MCP server '{args.name}' to {escape(str(written.path))}.")
        _say_private(written)
        console.print(f"`hashiru mcp test {args.name}` starts it and lists its tools.")
        return 0
    if args.action == "remove":
        written = remove_mcp_server(home, args.name)
        console.print(f"Removed MCP server '{args.name}' from {escape(str(written.path))}.")
        return 0
    if args.action in ("enable", "disable"):
        enable_mcp_server(home, args.name, args.action == "enable")
        offered = "offered to" if args.action == "enable" else "not offered to"
        console.print(
            f"MCP server '{args.name}' is {args.action}d: its tools are {offered} the CEO."
        )
        return 0
    if args.action == "serve":
        return await _serve(hashiru, args)
    if args.action == "test":
        return await _test(hashiru, args.name)
    return await _list(hashiru, args.json)


def _values(args: argparse.Namespace) -> dict[str, Any]:
    """The new `[mcp_servers.NAME]` table: only what was given, so defaults stay defaults."""
    if bool(args.command) == bool(args.url):
        raise ConfigError(
            "Say how to reach the server: `hashiru mcp add NAME -- COMMAND [ARGS...]` "
            "or `hashiru mcp add NAME --url URL`."
        )
    command, *rest = args.command or [None]
    values: dict[str, Any] = {"command": command} if command else {"url": args.url}
    given = {
        "args": rest,
        "env": dict(args.env),
        "cwd": args.cwd,
        "headers": dict(args.header),
        "approval": args.approval,
        "timeout": args.timeout,
    }
    values |= {key: value for key, value in given.items() if value}
    if args.disabled:
        values["enabled"] = False
    return values


def _say_private(written: Written) -> None:
    if written.private:
        console.print(
            f"{written.path.name} holds secrets, so only you can read it (permissions 0600)."
        )


def described(name: str, server: McpServerSettings, status: Any) -> dict[str, Any]:
    """One server as `mcp list --json` shows it (the module docstring lists the keys)."""
    return {
        "name": name,
        "transport": server.transport,
        "enabled": server.enabled,
        "approval": server.approval_mode,
        "ok": bool(status.ok),
        "error": status.error,
        "command": server.command,
        "args": list(server.args),
        "cwd": None if server.cwd is None else str(server.cwd),
        "url": None if server.url is None else shown_url(server.url),
        "env": sorted(server.env),
        "headers": sorted(server.headers),
        "timeout": server.timeout,
        "tools": [{"name": t.name, "description": t.description} for t in status.tools],
        "skipped": list(status.skipped),
    }


def shown_url(url: str) -> str:
    """The URL without a password or query: either may carry a key."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))


async def _list(hashiru: Hashiru, as_json: bool) -> int:
    configured = hashiru.settings.mcp_servers
    statuses = await hashiru.mcp.status() if configured else []
    servers = [described(s.name, configured[s.name], s) for s in statuses]
    if as_json:
        print(json.dumps(servers, indent=2))
        return 0
    if not servers:
        console.print("No MCP servers: `hashiru mcp add NAME -- COMMAND` or `--url URL` adds one.")
        return 0
    table = Table("server", "runs", "state", "tools, or why not")
    for server in servers:
        table.add_row(
            escape(server["name"]),
            escape(_runs(server)),
            _state(server),
            escape(_tools_or_why(server)),
        )
    console.print(table)
    return 0


def _runs(server: dict[str, Any]) -> str:
    """How it is reached and its approval; env and headers by key only."""
    if server["transport"] == "stdio":
        runs = shlex.join([server["command"], *server["args"]])
        keys = f"\nenv: {', '.join(server['env'])}" if server["env"] else ""
    else:
        runs = server["url"]
        keys = f"\nheaders: {', '.join(server['headers'])}" if server["headers"] else ""
    return f"{server['transport']}: {runs}{keys}\napproval: {server['approval']}"


def _state(server: dict[str, Any]) -> str:
    if not server["enabled"]:
        return "[dim]disabled[/]"
    return "[green]up[/]" if server["ok"] else "[red]down[/]"


def _tools_or_why(server: dict[str, Any]) -> str:
    """Its tools, or why it is down."""
    if not server["ok"]:
        return server["error"] or ""
    tools = ", ".join(_short(server["name"], tool["name"]) for tool in server["tools"])
    skipped = f" ({len(server['skipped'])} left out: see --json)" if server["skipped"] else ""
    return (tools or "(no tools)") + skipped


def _short(server: str, tool: str) -> str:
    """A tool's name without the `<server>__` the CEO's name starts with."""
    return tool.removeprefix(f"{server}__")


async def _test(hashiru: Hashiru, name: str) -> int:
    server = hashiru.settings.mcp_servers.get(name)
    if server is None:
        raise ConfigError(f"No MCP server named '{name}' in hashiru.toml: `hashiru mcp list`.")
    [status] = await hashiru.mcp.status(name)
    if not status.ok:
        why = escape(status.error or "no reason given")
        errors.print(f"[bold red]error:[/] MCP server '{escape(name)}' does not work: {why}")
        return 1
    console.print(
        f"{escape(name)} works ({server.transport}): {len(status.tools)} tools, which the CEO "
        f"calls {escape(name)}__<tool>; approval {server.approval_mode}"
        f"{'' if server.enabled else '; disabled'}."
    )
    table = Table("tool", "description")
    label = f"[MCP {name}] "
    for tool in status.tools:
        table.add_row(escape(_short(name, tool.name)), escape(tool.description.removeprefix(label)))
    if status.tools:
        console.print(table)
    for why in status.skipped:
        console.print(f"[yellow]left out:[/] {escape(why)}")
    return 0


async def _serve(hashiru: Hashiru, args: argparse.Namespace) -> int:
    """Serve until interrupted; stdio: nothing but the protocol on stdout."""
    from hashiru.mcp_server import serve

    given = {k: getattr(args, k) for k in ("host", "port", "token") if getattr(args, k)}
    if given and not args.http:
        raise ConfigError("--host, --port and --token are for `hashiru mcp serve --http`.")
    await serve(hashiru, http=args.http, **given)
    return 0
