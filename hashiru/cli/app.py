"""`hashiru ui`: serve the app until Ctrl+C. Gradio takes seconds to import: only this pays."""

from __future__ import annotations

import argparse
import asyncio

from rich.markup import escape

from hashiru import ui
from hashiru.cli.output import console, errors
from hashiru.runtime import Hashiru


async def ui_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    if not ui.is_loopback(args.host) and not args.auth:
        errors.print(
            f"[bold yellow]warning:[/] serving on {escape(args.host)} without --auth: anyone who "
            "can reach this address can spend your budget."
        )
    app = ui.launch(ui.build_app(hashiru), args.host, args.port, args.auth)
    console.print(f"HASHIRU is on [bold]http://{args.host}:{args.port}/[/] (Ctrl+C stops it)")
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        ui.shutdown(app)
