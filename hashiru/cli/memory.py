"""`hashiru memory`: list, search, add, delete, export and import long-term memories.

The only command besides `run`, `ui` and `doctor` that opens Chroma and the embedding model.
"""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from hashiru.cli.arguments import user_path
from hashiru.cli.output import console
from hashiru.runtime import Hashiru


async def memory_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    store = hashiru.memory
    if args.action == "delete":
        store.delete(args.id)
        console.print(f"Deleted {args.id}.")
        return 0
    if args.action == "export":
        with user_path(f"write {args.file}"):
            count = store.export_jsonl(args.file)
        console.print(f"Exported {count} memories to {args.file}.")
        return 0
    if args.action == "import":
        with user_path(f"read {args.file}"):
            count = store.import_jsonl(args.file)
        console.print(f"Imported {count} memories from {args.file}.")
        return 0
    if args.action == "add":
        shown = [store.add(args.text, args.kind, key=args.key, agent="user")]
    elif args.action == "search":
        shown = [r.memory for r in store.search(args.query, k=args.k)]
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
