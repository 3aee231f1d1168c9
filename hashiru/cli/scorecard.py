"""`hashiru scorecard`: how well each model has done on each kind of task, and what it cost.

It reads the outcome records (one SQLite file) and nothing else: no model backend, Chroma or
Gradio, so it starts as fast as the runtime imports. Each line is `display.score_row`'s, the
same the app's Team tab shows. The table is grouped by kind (a bold row names it) rather than
given a kind column, so that at 80 columns the model's name keeps the room.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from itertools import groupby

from rich import box
from rich.markup import escape
from rich.table import Table

from hashiru import display
from hashiru.cli.output import console
from hashiru.economy.outcomes import ScoreLine
from hashiru.runtime import Hashiru


async def scorecard_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    lines = await asyncio.to_thread(hashiru.scorecard, args.kind)  # OutcomeError: a bad kind
    if args.json:
        print(json.dumps([line.summary() for line in lines], default=str, indent=2))
    elif lines:
        console.print(_table(lines))
    else:
        which = f"{args.kind} " if args.kind else ""
        console.print(f"No {which}asks yet. {escape(display.SCORECARD_FILLS)}")
    return 0


def _table(lines: list[ScoreLine]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        caption=display.SCORECARD_READS,
        caption_justify="left",
    )
    columns = [column for column in display.SCORE_COLUMNS if column != "kind"]
    for column in columns:
        justify = "left" if column in ("model", "success") else "right"
        table.add_column(column, justify=justify, no_wrap=column != "model", overflow="fold")
    for kind, same_kind in groupby(lines, key=lambda line: line.kind):
        table.add_row(f"[bold]{escape(kind)}[/]")
        for row in map(display.score_row, same_kind):
            cells = dict(zip(display.SCORE_COLUMNS, row.cells(), strict=True))
            table.add_row(*(escape(str(cells[column])) for column in columns))
    return table
