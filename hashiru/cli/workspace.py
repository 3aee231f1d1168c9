"""The workspace's books: `agents`, `fire`, `budget`, `ledger` and `tools`.

None of these loads a model backend, Chroma or Gradio: they read SQLite files and the tool
registry, so they start as fast as the runtime imports.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal

from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from hashiru import display
from hashiru.agents.hr_tools import budget_summary
from hashiru.cli.output import console
from hashiru.economy.ledger import NO_RUN, Entry
from hashiru.economy.resources import GIB
from hashiru.errors import ConfigError
from hashiru.runtime import Hashiru


async def agents_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    employees = [e.summary() for e in hashiru.company.roster]
    if args.json:
        print(json.dumps(employees, indent=2))
        return 0
    columns = ["name", "model", "where", "host", "calls", "failures", "description"]
    if not any(e["host"] for e in employees):  # no backend had a choice of host: no column
        columns.remove("host")
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold" if column == "host" else "ellipsis")
    for e in employees:
        cells = {
            **{key: escape(str(e[key])) for key in ("name", "model", "host", "calls")},
            "where": "local" if e["local"] else "cloud",
            "failures": str(e["failures"]),
            "description": escape(str(e["description"])),
        }
        table.add_row(*(cells[column] for column in columns))
    console.print(table if employees else "No employees hired.")
    return 0


async def fire_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    employee = await hashiru.company.fire(NO_RUN, args.name)
    console.print(f"Fired {employee.name} ({employee.model}).")
    return 0


async def budget_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    changes = args.usd is not None or args.memory_gib is not None
    if changes != (args.action == "set"):
        raise ConfigError("Change the budgets with `hashiru budget set --usd X --memory-gib Y`.")
    if changes:
        memory = None if args.memory_gib is None else int(args.memory_gib * GIB)
        hashiru.ledger.set_budget(usd=args.usd, memory_bytes=memory)
    summary = budget_summary(hashiru.ledger.state())
    if args.json:
        print(json.dumps(summary, default=str, indent=2))
        return 0
    table = Table("budget", "used", "reserved", "free", "total", "")
    usd, memory = summary["expense_usd"], summary["resource_gib"]
    table.add_row(
        "expense (USD)",
        display.usd(usd["spent"]),
        display.usd(usd["reserved"]),
        display.usd(usd["free"]),
        display.usd(usd["total"], places=2),
        _bar(usd["spent"] + usd["reserved"], usd["total"]),
    )
    table.add_row(
        "resource (GiB)",
        f"{memory['used']}",
        "",
        f"{memory['free']}",
        f"{memory['total']}",
        _bar(memory["used"], memory["total"]),
    )
    console.print(table)
    if hosts := summary.get("resource_gib_by_host"):
        console.print(_hosts_table(hosts))
    for agent, spent in sorted(summary["spent_by_agent_usd"].items()):
        console.print(f"  {escape(agent)}: ${display.usd(spent)}")
    return 0


def _hosts_table(hosts: dict[str, dict]) -> Table:
    """Each memory budget (GiB): this machine's, and each host's or endpoint's of its own,
    with the models loaded under it."""
    table = Table()
    table.add_column("memory (GiB)", overflow="fold")  # a host whole, if on two lines
    for column in ("used", "free", "total", "", "models loaded"):
        table.add_column(column)
    for host, memory in hosts.items():
        models = ", ".join(f"{model} ({size})" for model, size in memory["models"].items())
        table.add_row(
            escape(host),
            f"{memory['used']}",
            f"{memory['free']}",
            f"{memory['total']}",
            _bar(memory["used"], memory["total"], width=10),
            escape(models),
        )
    return table


def _bar(used: Decimal, total: Decimal, width: int = 20) -> str:
    share = min(Decimal(1), used / total) if total else Decimal(1)
    filled = round(share * width)
    colour = "green" if share < Decimal("0.5") else "yellow" if share < Decimal("0.8") else "red"
    return f"[{colour}]{'█' * filled}[/][dim]{'░' * (width - filled)}[/] {share:.0%}"


async def ledger_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    entries = hashiru.ledger.entries(args.run)
    if args.csv:
        fields = list(Entry.model_fields)
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(entry.model_dump(mode="json") for entry in entries)
        return 0
    table = Table()
    for column in ("#", "time", "run", "kind", "agent", "model", "tokens", "USD", "note"):
        table.add_column(column, no_wrap=column not in ("agent", "model", "note"))
    for row in map(display.ledger_row, entries):
        table.add_row(
            str(row.id),
            row.time,
            row.run,
            row.kind,
            escape(row.agent),
            escape(row.model),
            row.tokens,
            row.usd,
            escape(row.note),
            style="dim" if row.in_flight else None,
        )
    table.caption = "(USD) is a hold for a call in flight, closed by its settle or release."
    console.print(table if entries else "The ledger is empty.")
    return 0


async def tools_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    registry = hashiru.toolsmith.registry
    if args.action and not args.name:
        raise ConfigError(f"Say which tool: `hashiru tools {args.action} NAME`.")
    if args.action == "show":
        manifest = registry.get(args.name)
        console.print(
            f"[bold]{manifest.name}[/] v{manifest.version}: {escape(manifest.description)}"
        )
        console.print(Syntax(registry.code(args.name), "python", line_numbers=True))
        return 0
    if args.action == "delete":
        console.print(f"Deleted {args.name}; archived in {registry.delete(args.name)}.")
        return 0
    if args.action in ("enable", "disable"):
        enable = args.action == "enable"  # enabling is the user's approval
        registry.update(args.name, enabled=enable, approved=True if enable else None)
        console.print(f"{args.name} is {args.action}d.")
        return 0
    manifests = registry.manifests()
    if args.json:
        print(json.dumps([m.model_dump(mode="json") for m in manifests], indent=2))
        return 0
    table = Table()
    for column in ("name", "version", "state", "network", "created by run", "description"):
        table.add_column(column, no_wrap=column != "description")
    for m in manifests:
        state = "enabled" if m.active else "disabled" if m.approved else "awaiting approval"
        table.add_row(
            m.name,
            str(m.version),
            state,
            "yes" if m.needs_network else "",
            m.versions[-1].created_by_run,
            escape(m.description),
        )
    console.print(table if manifests else "No generated tools yet.")
    return 0
