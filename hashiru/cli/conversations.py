"""`hashiru conversations`: list, show, rename, delete and export saved conversations.

It reads the conversation store and the ledger (for what each conversation spent), never a
model backend: it starts as fast as the runtime imports. A transcript is the Markdown the app's
export gives (`hashiru.transcript.markdown`), drawn with rich on a terminal, plain otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal

from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from hashiru import display
from hashiru.cli.arguments import user_path
from hashiru.cli.output import console
from hashiru.conversations import Conversation, ConversationPage
from hashiru.runtime import Hashiru
from hashiru.transcript import markdown


async def conversations_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    store = hashiru.conversations
    if args.action == "rename":
        renamed = await asyncio.to_thread(store.rename, args.id, args.title)
        console.print(f"Renamed {renamed.id} to {escape(renamed.title)!r}.")
        return 0
    if args.action == "delete":
        deleted = await asyncio.to_thread(store.delete, args.id)
        console.print(f"Deleted conversation {deleted}; the ledger keeps what it spent.")
        return 0
    if args.action in ("show", "export"):
        conversation = await asyncio.to_thread(store.get, args.id)
        spent = await asyncio.to_thread(hashiru.conversation_spent, conversation)
        if args.action == "show":
            print_markdown(markdown(conversation, spent))
        else:
            _export(conversation, spent, args)
        return 0
    offset = args.offset if args.offset is not None else (args.page - 1) * args.limit
    page = await asyncio.to_thread(
        hashiru.conversation_page, query=args.search or "", offset=offset, limit=args.limit
    )
    if args.json:
        print(page.model_dump_json(indent=2))
    else:
        _print_page(page, args.search or "")
    return 0


def print_markdown(text: str) -> None:
    """Markdown drawn by rich on a terminal; as it is (to read or to save) anywhere else."""
    if console.is_terminal:
        console.print(Markdown(text))
    else:
        sys.stdout.write(text)


def _export(conversation: Conversation, spent: Decimal, args: argparse.Namespace) -> None:
    if args.json:
        text = json.dumps(
            {**conversation.model_dump(mode="json"), "spent_usd": str(spent)}, indent=2
        )
        text += "\n"
    else:
        text = markdown(conversation, spent)
    if args.output is None:
        sys.stdout.write(text)
        return
    with user_path(f"write {args.output}"):
        args.output.write_text(text, encoding="utf-8")
    console.print(f"Exported conversation {conversation.id} to {escape(str(args.output))}.")


def _print_page(page: ConversationPage, search: str) -> None:
    if not page.items:
        console.print(_nothing(page, search))
        return
    table = Table("id", "title", "source", "updated", "turns", "USD")
    for item in page.items:
        table.add_row(
            item.id,
            escape(item.title),
            item.source,
            item.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            str(item.turn_count),
            "" if item.spent_usd is None else display.usd(item.spent_usd),
        )
    first, last = page.offset + 1, page.offset + len(page.items)
    table.caption = f"{first} to {last} of {page.total}"
    if page.more:
        on_pages = page.offset % page.limit == 0
        further = f"--page {page.offset // page.limit + 2}" if on_pages else f"--offset {last}"
        table.caption += f"; `--limit {page.limit} {further}` shows more"
    console.print(table)


def _nothing(page: ConversationPage, search: str) -> str:
    """Why the page is empty: no conversations, none matching, or a page past the end."""
    if page.total and page.offset >= page.total:
        return f"No conversations here: there are {page.total}, and this page starts after them."
    if search:
        return f"No conversation matches {escape(search)!r}."
    return 'No conversations yet; `hashiru run "TASK"` or `hashiru chat` starts one.'
