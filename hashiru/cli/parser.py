"""The `hashiru` command line: every command, flag and the type that checks its value.

Handlers are named, not imported ("module:function"): parsing, `--help` and a bad value load
nothing but the standard library; a command imports what it uses when it runs.
"""

from __future__ import annotations

import argparse

from hashiru import __version__
from hashiru.cli import arguments as a

DESCRIPTION = "Run a task headless, inspect and fire employees, and check what is available."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hashiru", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"hashiru {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    run = command("run", "run:run_command", "Answer a task with the CEO agent, headless.")
    run.add_argument("task", type=a.task)
    run.add_argument(
        "--ceo", type=a.name, help="the CEO's model as provider:model (default: best available)"
    )
    run.add_argument("--max-steps", type=a.count(1), help="cap on the CEO's steps")
    run.add_argument("--max-seconds", type=a.seconds, help="cap on the run's wall time")
    run.add_argument("--budget-usd", type=a.money, help="cap this run's spend in USD")
    run.add_argument("--json", action="store_true", help="print one JSON object at the end")
    run.add_argument("--yes", action="store_true", help="approve tools the CEO creates")

    agents = command("agents", "workspace:agents_command", "List the hired employees.")
    agents.add_argument("--json", action="store_true")
    fire = command("fire", "workspace:fire_command", "Fire an employee.")
    fire.add_argument("name", type=a.name)
    budget = command(
        "budget", "workspace:budget_command", "Show both budgets; `budget set` changes them."
    )
    budget.add_argument("--json", action="store_true")
    budget.add_argument("action", nargs="?", choices=["set"], help="change the budgets")
    budget.add_argument("--usd", type=a.money, help="the expense budget in USD")
    budget.add_argument("--memory-gib", type=a.gib, help="the resource budget in GiB")
    ledger = command(
        "ledger", "workspace:ledger_command", "List the ledger's rows (hires, calls, ...)."
    )
    ledger.add_argument("--csv", action="store_true", help="every field, as CSV")
    ledger.add_argument("--run", type=a.name, help="only this run's rows")
    tools = command(
        "tools", "workspace:tools_command", "List, show, enable, disable or delete generated tools."
    )
    tools.add_argument("action", nargs="?", choices=["show", "enable", "disable", "delete"])
    tools.add_argument("name", nargs="?", type=a.name)
    tools.add_argument("--json", action="store_true")

    memory_help = "List, search, add, delete, export or import memories."
    _memory(command("memory", "memory:memory_command", memory_help))

    ui = command(
        "ui", "app:ui_command", "Open the app: chat with the CEO, see the team and budget."
    )
    ui.add_argument(
        "--host", type=a.name, default="127.0.0.1", help="address to serve on (default loopback)"
    )
    ui.add_argument("--port", type=a.port, default=7860)
    ui.add_argument("--auth", metavar="USER:PASS", help="ask for this login before the app")
    doctor = command("doctor", "doctor:doctor_command", "Show which model backends are available.")
    doctor.add_argument("--json", action="store_true")
    return parser


def _memory(memory: argparse.ArgumentParser) -> None:
    """`memory [list] | search QUERY | add TEXT | delete ID | export FILE | import FILE`."""
    memory.add_argument("--json", action="store_true")
    memory.set_defaults(action="list")
    actions = memory.add_subparsers(dest="action", metavar="ACTION", help="default: list")
    # --json also after the action; SUPPRESS keeps a --json given before it
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    actions.add_parser("list", parents=[json_flag], help="every memory, newest first")
    search = actions.add_parser("search", parents=[json_flag], help="the memories nearest QUERY")
    search.add_argument("query", type=a.phrase)
    search.add_argument("-k", type=a.count(1), default=5, help="how many results to search for")
    add = actions.add_parser("add", parents=[json_flag], help="remember TEXT")
    add.add_argument("text", type=a.phrase)
    add.add_argument(
        "--kind", default="fact", choices=["preference", "correction", "fact", "lesson"]
    )
    add.add_argument("--key", type=a.name, help="a stable name: adding the same key updates it")
    delete = actions.add_parser("delete", help="forget the memory with this id")
    delete.add_argument("id", type=a.name)
    export = actions.add_parser("export", help="write every memory to a JSONL file")
    export.add_argument("file", type=a.writable_file)
    restore = actions.add_parser("import", help="add the memories in a JSONL file")
    restore.add_argument("file", type=a.readable_file)
