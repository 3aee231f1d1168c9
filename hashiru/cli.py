"""`hashiru`: run a task headless, inspect and fire employees, and check what is available.

Thin on purpose: it builds a Hashiru, renders its typed events with rich, and turns every
HashiruError into one readable line and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.prompt import Confirm
from rich.syntax import Syntax
from rich.table import Table

from hashiru import __version__
from hashiru.agents.events import (
    AgentFired,
    AgentHired,
    Event,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from hashiru.agents.hr_tools import budget_summary
from hashiru.agents.toolsmith import Approver, ToolRequest, refuse_all
from hashiru.economy.ledger import Entry
from hashiru.economy.resources import GIB
from hashiru.errors import ConfigError, HashiruError
from hashiru.providers.discovery import survey
from hashiru.runtime import Hashiru, RunResult
from hashiru.settings import Settings

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(
            ceo_model=getattr(args, "ceo", None),
            max_steps=getattr(args, "max_steps", None),
            max_seconds=getattr(args, "max_seconds", None),
        )
        return asyncio.run(_command(Hashiru.from_settings(settings), args))
    except HashiruError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        return 130


async def _command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    try:
        return await args.command(hashiru, args)
    finally:
        await hashiru.aclose()


async def run_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    on_event = None if args.json else EventPrinter()
    result = await hashiru.run(
        args.task, on_event=on_event, budget_usd=args.budget_usd, approve=_approver(args.yes)
    )
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        console.print()
        console.print(f"[dim]{_summary(result)}[/]")
    return 0 if result.answer.strip() else 1


def _approver(yes: bool) -> Approver:
    """--yes approves new tools; a terminal asks; anything else refuses (enable them later)."""

    async def approve_all(request: ToolRequest) -> bool:
        return True

    async def ask(request: ToolRequest) -> bool:
        network = " [bold red]with network access[/]" if request.needs_network else ""
        about = escape(request.description)
        errors.print(f"\nThe CEO wrote a tool [bold]{request.name}[/]{network}: {about}")
        errors.print(Syntax(request.code, "python", line_numbers=True))
        return await asyncio.to_thread(Confirm.ask, "Enable it?", console=errors, default=False)

    if yes:
        return approve_all
    return ask if sys.stdin.isatty() else refuse_all


class EventPrinter:
    """Renders a run as it happens: the CEO's text, then each tool call as it starts and ends."""

    def __init__(self) -> None:
        self._at_line_start = True

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            console.print(escape(event.text), end="")
            self._at_line_start = event.text.endswith("\n")
            return
        if not self._at_line_start:
            console.print()
            self._at_line_start = True
        if isinstance(event, ToolCallStarted):
            console.print(f"[cyan]→ {event.name}[/]([dim]{escape(_brief(event.arguments))}[/])")
        elif isinstance(event, ToolCallFinished):
            mark = "[green]✓[/]" if event.ok else "[red]✗[/]"
            console.print(f"{mark} {event.name} [dim]{event.seconds:.2f}s[/]")
            text = escape(_result_text(event.result))
            console.print(Padding(text, (0, 0, 0, 2), expand=False), style="dim")
        elif isinstance(event, AgentHired):
            console.print(f"[magenta]+ hired {event.name}[/] on {event.model}")
        elif isinstance(event, AgentFired):
            console.print(f"[magenta]- fired {event.name}[/] ({event.model})")


def _result_text(result: str) -> str:
    """What a person wants to read of a tool result: an employee's answer whole, else a brief."""
    value = json.loads(result)
    if isinstance(value, dict) and isinstance(value.get("answer"), str):
        return value["answer"]
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return value["error"]
    return _brief(value, limit=300)


def _brief(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(result: RunResult) -> str:
    return (
        f"{result.ceo_model} · {_count(result.steps, 'step')} · "
        f"{_count(len(result.tool_calls), 'tool call')} · "
        f"{result.usage.input_tokens:,} in / {result.usage.output_tokens:,} out tokens · "
        f"${result.cost.expense_usd:.4f} · {result.seconds:.1f} s · run {result.run_id}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def agents_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    employees = [e.summary() for e in hashiru.company.roster]
    if args.json:
        print(json.dumps(employees, indent=2))
        return 0
    table = Table("name", "model", "where", "calls", "failures", "description")
    for e in employees:
        where = "local" if e["local"] else "cloud"
        table.add_row(
            e["name"], e["model"], where, str(e["calls"]), str(e["failures"]), e["description"]
        )
    console.print(table if employees else "No employees hired.")
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
        f"{usd['spent']:.4f}",
        f"{usd['reserved']:.4f}",
        f"{usd['free']:.4f}",
        f"{usd['total']:.2f}",
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
    for agent, spent in sorted(summary["spent_by_agent_usd"].items()):
        console.print(f"  {escape(agent)}: ${spent:.4f}")
    return 0


def _bar(used: Decimal, total: Decimal, width: int = 20) -> str:
    share = min(Decimal(1), used / total) if total else Decimal(1)
    filled = round(share * width)
    colour = "green" if share < Decimal("0.5") else "yellow" if share < Decimal("0.8") else "red"
    return f"[{colour}]{'█' * filled}[/][dim]{'░' * (width - filled)}[/] {share:.0%}"


async def ledger_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    entries = hashiru.ledger.entries(args.run)
    rows = [entry.model_dump(mode="json") for entry in entries]
    if args.csv:
        fields = list(Entry.model_fields)
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    table = Table()
    for column in ("#", "time", "run", "kind", "agent", "model", "tokens", "USD", "note"):
        table.add_column(column, no_wrap=column not in ("agent", "model", "note"))
    for entry in entries:
        tokens = f"{entry.input_tokens}/{entry.output_tokens}" if entry.kind == "settle" else ""
        usd = "" if entry.usd is None else f"{entry.usd:.6f}".rstrip("0").rstrip(".")
        table.add_row(
            str(entry.id),
            entry.at.strftime("%m-%d %H:%M:%S"),
            entry.run_id[:6],
            entry.kind,
            escape(entry.agent),
            escape(entry.model),
            tokens,
            f"({usd})" if entry.kind == "reserve" else usd,
            escape(entry.note),
            style="dim" if entry.kind in ("reserve", "release") else None,
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


async def memory_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    store = hashiru.memory
    if args.action in ("search", "add", "delete", "export", "import") and not args.value:
        raise ConfigError(f"`hashiru memory {args.action}` needs an argument.")
    if args.action == "add":
        shown = [store.add(args.value, args.kind, key=args.key, agent="user")]
    elif args.action == "delete":
        store.delete(args.value)
        console.print(f"Deleted {args.value}.")
        return 0
    elif args.action == "export":
        count = store.export_jsonl(Path(args.value))
        console.print(f"Exported {count} memories to {args.value}.")
        return 0
    elif args.action == "import":
        count = store.import_jsonl(Path(args.value))
        console.print(f"Imported {count} memories from {args.value}.")
        return 0
    elif args.action == "search":
        found = store.search(args.value, k=args.k)
        shown = [r.memory for r in found]
    else:
        shown = store.list()
    if args.json:
        print(json.dumps([m.model_dump(mode="json") for m in shown], indent=2))
        return 0
    table = Table("id", "kind", "text", "recalls", "created")
    for memory in shown:
        table.add_row(
            memory.id,
            memory.kind,
            escape(memory.text),
            str(memory.recalls),
            memory.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table if shown else "No memories.")
    return 0


async def fire_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    employee = hashiru.company.fire("", args.name)
    console.print(f"Fired {employee.name} ({employee.model}).")
    return 0


async def ui_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    from hashiru import ui  # Gradio takes seconds to import: only this command pays for it

    if not ui.is_loopback(args.host) and not args.auth:
        errors.print(
            f"[bold yellow]warning:[/] serving on {escape(args.host)} without --auth: anyone who "
            "can reach this address can spend your budget."
        )
    blocks = ui.launch(ui.build_app(hashiru), args.host, args.port, args.auth)
    console.print(f"HASHIRU is on [bold]http://{args.host}:{args.port}/[/] (Ctrl+C stops it)")
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        ui.shutdown(blocks)


async def doctor_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    statuses = await survey(hashiru.providers)
    try:
        ceo = await hashiru.ceo_model()
    except HashiruError as exc:
        ceo = None
        reason = str(exc)
    if args.json:
        report = {
            "ceo_model": ceo,
            "backends": [s.model_dump() for s in statuses],
            "sandbox_layers": hashiru.sandbox.layers(),
        }
        print(json.dumps(report))
        return 0
    table = Table("backend", "kind", "available", "models / why not")
    for status in statuses:
        models = ", ".join(m.ref for m in status.models[:6])
        table.add_row(
            status.name,
            "local" if status.local else "cloud",
            "[green]yes[/]" if status.available else "[red]no[/]",
            escape(models if status.available else status.reason),
        )
    console.print(table)
    console.print(f"CEO model: [bold]{ceo}[/]" if ceo else f"[red]{escape(reason)}[/]")
    console.print(f"Sandbox layers: {', '.join(hashiru.sandbox.layers())}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hashiru", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hashiru {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: Callable, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(command=handler)
        return sub

    run = command("run", run_command, "Answer a task with the CEO agent, headless.")
    run.add_argument("task")
    run.add_argument("--ceo", help="the CEO's model as provider:model (default: best available)")
    run.add_argument("--max-steps", type=int, help="cap on the CEO's steps")
    run.add_argument("--max-seconds", type=float, help="cap on the run's wall time")
    run.add_argument("--budget-usd", type=Decimal, help="cap this run's spend in USD")
    run.add_argument("--json", action="store_true", help="print one JSON object at the end")
    run.add_argument("--yes", action="store_true", help="approve tools the CEO creates")
    agents = command("agents", agents_command, "List the hired employees.")
    agents.add_argument("--json", action="store_true")
    fire = command("fire", fire_command, "Fire an employee.")
    fire.add_argument("name")
    budget = command("budget", budget_command, "Show both budgets; `budget set` changes them.")
    budget.add_argument("--json", action="store_true")
    budget.add_argument("action", nargs="?", choices=["set"], help="change the budgets")
    budget.add_argument("--usd", type=Decimal, help="the expense budget in USD")
    budget.add_argument("--memory-gib", type=Decimal, help="the resource budget in GiB")
    ledger = command("ledger", ledger_command, "List the ledger's rows (hires, calls, ...).")
    ledger.add_argument("--csv", action="store_true", help="every field, as CSV")
    ledger.add_argument("--run", help="only this run's rows")
    tools = command(
        "tools", tools_command, "List, show, enable, disable or delete generated tools."
    )
    tools.add_argument("action", nargs="?", choices=["show", "enable", "disable", "delete"])
    tools.add_argument("name", nargs="?")
    tools.add_argument("--json", action="store_true")
    memory = command(
        "memory", memory_command, "List, search, add, delete, export or import memories."
    )
    memory.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "search", "add", "delete", "export", "import"],
    )
    memory.add_argument("value", nargs="?", help="the query, text, id or JSONL file")
    memory.add_argument(
        "--kind", default="fact", choices=["preference", "correction", "fact", "lesson"]
    )
    memory.add_argument("--key", help="a stable name: adding the same key updates the memory")
    memory.add_argument("-k", type=int, default=5, help="how many results to search for")
    memory.add_argument("--json", action="store_true")
    ui = command("ui", ui_command, "Open the app: chat with the CEO, see the team and budget.")
    ui.add_argument("--host", default="127.0.0.1", help="address to serve on (default loopback)")
    ui.add_argument("--port", type=int, default=7860)
    ui.add_argument("--auth", metavar="USER:PASS", help="ask for this login before the app")
    doctor = command("doctor", doctor_command, "Show which model backends are available.")
    doctor.add_argument("--json", action="store_true")
    return parser


if __name__ == "__main__":
    sys.exit(main())
