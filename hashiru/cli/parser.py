"""The `hashiru` command line: every command, flag and the type that checks its value.

Handlers are named, not imported ("module:function"): parsing, `--help` and a bad value load
nothing but the standard library; a command imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from hashiru import __version__
from hashiru.cli import arguments as a

DESCRIPTION = "Run a task headless, inspect and fire employees, and check what is available."
LATEST = "latest"
"""`--continue` without an id (or with this word): the conversation updated last. Ids are hex,
so no id is this word."""


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
        "--continue",
        dest="conversation",
        nargs="?",
        const=LATEST,
        type=a.conversation_id,
        metavar="ID",
        help="continue the latest conversation, or the one with this id (after the task)",
    )
    _policy_flags(run)
    run.add_argument("--json", action="store_true", help="print one JSON object at the end")
    recording = run.add_mutually_exclusive_group()
    recording.add_argument(
        "--record",
        type=a.writable_file,
        metavar="FILE",
        help="write a cassette of the run's model calls and look-ups, to replay it later",
    )
    recording.add_argument(
        "--replay",
        type=a.readable_file,
        metavar="FILE",
        help="answer every model call from this cassette: no provider, no dollars",
    )
    recording.add_argument(
        "--replay-new",
        type=a.readable_file,
        metavar="FILE",
        help="replay, sending the requests the cassette lacks to the providers and adding them",
    )
    run.add_argument(
        "--trace",
        type=a.writable_file,
        metavar="FILE.json",
        help="write the run's OpenTelemetry spans to this file as JSON",
    )

    chat = command(
        "chat", "chat:chat_command", "Chat with the CEO in the terminal (Ctrl+D leaves)."
    )
    chat.add_argument(
        "conversation",
        nargs="?",
        type=a.conversation_id,
        metavar="ID",
        help="continue this conversation (default: start a new one)",
    )
    _policy_flags(chat)

    conversations_help = "List, show, rename, delete or export saved conversations."
    _conversations(
        command("conversations", "conversations:conversations_command", conversations_help)
    )

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
    scorecard = command(
        "scorecard",
        "scorecard:scorecard_command",
        "How well each model did on each kind of task, and what an ask cost.",
    )
    scorecard.add_argument(
        "--kind", type=a.name, help="only this kind of task: math, code, writing, ..."
    )
    scorecard.add_argument("--json", action="store_true", help="the lines as a JSON array")
    tools = command(
        "tools", "workspace:tools_command", "List, show, enable, disable or delete generated tools."
    )
    tools.add_argument("action", nargs="?", choices=["show", "enable", "disable", "delete"])
    tools.add_argument("name", nargs="?", type=a.name)
    tools.add_argument("--json", action="store_true")

    memory_help = "List, search, add, delete, export or import memories."
    _memory(command("memory", "memory:memory_command", memory_help))

    mcp_help = "Add, list, test or remove the MCP servers whose tools the CEO uses; or serve."
    _mcp(command("mcp", "mcp:mcp_command", mcp_help))

    ui = command(
        "ui", "app:ui_command", "Open the app: chat with the CEO, see the team and budget."
    )
    ui.add_argument(
        "--host", type=a.name, default="127.0.0.1", help="address to serve on (default loopback)"
    )
    ui.add_argument("--port", type=a.port, default=7860)
    ui.add_argument(
        "--auth",
        metavar="USER:PASS",
        action="append",
        help="ask for this login before the app; repeat it for more users",
    )
    ui.add_argument("--no-browser", action="store_true", help="do not open the app in a browser")
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


def _mcp(mcp: argparse.ArgumentParser) -> None:
    """`mcp add NAME -- COMMAND [ARGS...] | add NAME --url URL | list | test NAME | remove NAME |
    enable NAME | disable NAME | serve`."""
    actions = mcp.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_CommandAfterDashes
    )
    add = actions.add_parser(
        "add",
        help="add a server to hashiru.toml: a command to start (stdio), or a URL (HTTP)",
        epilog="Values of --env and --header go to hashiru.toml (made 0600), never to output.",
    )
    add.add_argument(
        "name",
        type=a.name,
        metavar="NAME",
        help="letters, digits, '-' or '_'; its tools: NAME__tool",
    )
    add.add_argument(
        "command",
        nargs="*",
        metavar="-- COMMAND [ARGS]",
        help="the program that speaks MCP on stdin and stdout, after `--`",
    )
    add.add_argument(
        "--url", type=mcp_url, metavar="URL", help="a streamable HTTP server's URL, not a command"
    )
    add.add_argument(
        "--env",
        type=pair("="),
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for the command (repeat for more)",
    )
    add.add_argument("--cwd", type=folder, metavar="FOLDER", help="the folder the command runs in")
    add.add_argument(
        "--header",
        type=pair(":"),
        action="append",
        default=[],
        metavar="'KEY: VALUE'",
        help="an HTTP header sent to the URL (repeat for more)",
    )
    add.add_argument(
        "--approval",
        choices=["always", "once", "never"],
        help="ask before each call, the first call, or never (default: once for a command, "
        "never for a URL)",
    )
    add.add_argument(
        "--timeout",
        type=a.seconds,
        metavar="SECONDS",
        help="seconds per call and to start (default 60)",
    )
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.add_argument("--replace", action="store_true", help="replace a server of this name")

    listing = actions.add_parser("list", help="each server: does it start, and its tools")
    listing.add_argument("--json", action="store_true", help="the servers as a JSON array")
    for action, help in (
        ("test", "start a server and list its tools; exit status 1 if it does not work"),
        ("remove", "remove a server from hashiru.toml"),
        ("enable", "offer a server's tools to the CEO again"),
        ("disable", "keep a server in hashiru.toml, but offer none of its tools"),
    ):
        actions.add_parser(action, help=help).add_argument("name", type=a.name)

    serve = actions.add_parser(
        "serve", help="be an MCP server: any MCP client can hand tasks to this company"
    )
    serve.add_argument("--http", action="store_true", help="streamable HTTP, not stdio")
    serve.add_argument("--host", type=a.name, help="with --http: the address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=a.count(0, 65535), help="with --http: the port (default 8765; 0: any free)"
    )
    serve.add_argument("--token", type=a.name, help="with --http: the bearer token clients send")


class _CommandAfterDashes(argparse.ArgumentParser):
    """Everything after the first `--` is the command, whatever it looks like:
    `mcp add NAME --env K=V -- uvx server --flag` (plain argparse, having matched NAME, would
    refuse the words after `--` once an option came between)."""

    def parse_known_args(
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is None or "--" not in args or not any(x.dest == "command" for x in self._actions):
            return super().parse_known_args(args, namespace)
        cut = args.index("--")
        namespace, extras = super().parse_known_args(args[:cut], namespace)
        namespace.command = [*namespace.command, *args[cut + 1 :]]
        return namespace, extras


def pair(separator: str) -> Callable[[str], tuple[str, str]]:
    """`KEY<separator>VALUE`, as --env (=) and --header (:) take it; the value is never shown."""

    def key_and_value(text: str) -> tuple[str, str]:
        key, found, value = text.partition(separator)
        if not found or not key.strip():  # not echoed: it may be the secret, its key forgotten
            shown = "KEY=VALUE" if separator == "=" else "'KEY: VALUE'"
            raise argparse.ArgumentTypeError(f"give {shown} (what you typed is not shown)")
        return key.strip(), value.strip()

    return key_and_value


def mcp_url(text: str) -> str:
    """An http(s) URL with a host (not echoed if refused: its query may hold a key)."""
    try:
        parts = urlsplit(text)
        good = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a bad port or IPv6 address
        good = False
    if not good:
        raise argparse.ArgumentTypeError("give an http:// or https:// URL with a host")
    return text


def folder(text: str) -> str:
    """A folder that exists, as an absolute path (the server may start from anywhere)."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {text}")
    return str(path.resolve())


def _policy_flags(parser: argparse.ArgumentParser) -> None:
    """The choices a run or a chat makes on top of its conversation's policy or the workspace's."""
    parser.add_argument(
        "--ceo", type=a.name, help="the CEO's model as provider:model (default: best available)"
    )
    parser.add_argument("--max-steps", type=a.count(1), help="cap on the CEO's steps per turn")
    parser.add_argument("--max-seconds", type=a.seconds, help="cap on a turn's wall time")
    parser.add_argument("--budget-usd", type=a.money, help="cap a turn's spend in USD")
    parser.add_argument(
        "--yes",
        action="store_true",
        help="approve tools the CEO creates, MCP calls and model downloads",
    )


def _conversations(conversations: argparse.ArgumentParser) -> None:
    """`conversations [list] | show ID | rename ID TITLE | delete ID | export ID [--md|--json]`."""
    conversations.set_defaults(action="list")
    _list_flags(conversations, suppress=False)
    actions = conversations.add_subparsers(dest="action", metavar="ACTION", help="default: list")
    listing = actions.add_parser("list", help="the conversations, newest first, a page at a time")
    _list_flags(listing, suppress=True)  # also after the action, keeping those given before it
    show = actions.add_parser("show", help="print a conversation's transcript")
    show.add_argument("id", type=a.conversation_id)
    rename = actions.add_parser("rename", help="give a conversation a new title")
    rename.add_argument("id", type=a.conversation_id)
    rename.add_argument("title")  # the store checks it: one line, at most 200 characters
    delete = actions.add_parser("delete", help="forget a conversation (the ledger keeps its spend)")
    delete.add_argument("id", type=a.conversation_id)
    export = actions.add_parser("export", help="write a conversation as Markdown or JSON")
    export.add_argument("id", type=a.conversation_id)
    form = export.add_mutually_exclusive_group()
    form.add_argument("--md", action="store_true", help="Markdown for a person (the default)")
    form.add_argument("--json", action="store_true", help="the whole conversation as JSON")
    export.add_argument("-o", "--output", type=a.writable_file, help="write to FILE, not stdout")


def _list_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The list's flags; `suppress` leaves a value given before the action as it is."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--json", action="store_true", default=default(False), help="the page as one JSON object"
    )
    parser.add_argument(
        "--limit", type=a.count(1, 1000), default=default(20), help="conversations per page"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--page", type=a.count(1), default=default(1), help="which page, from 1")
    where.add_argument(
        "--offset", type=a.count(0), default=default(None), help="skip this many, not pages"
    )
    parser.add_argument(
        "--search", type=a.phrase, default=default(None), metavar="QUERY", help="words to find"
    )
