"""`hashiru ui`: serve the app until Ctrl+C, and open it in the browser where there is a desktop.

Gradio takes seconds to import: only this command pays.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import webbrowser

from rich.markup import escape

from hashiru import ui
from hashiru.cli.output import console, errors
from hashiru.runtime import Hashiru

ANY_ADDRESS = ("0.0.0.0", "::", "")
"""Hosts that serve every address: the browser on this machine opens loopback instead."""


async def ui_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    if not ui.is_loopback(args.host) and not args.auth:
        errors.print(
            f"[bold yellow]warning:[/] serving on {escape(args.host)} without --auth: anyone who "
            "can reach this address can spend your budget."
        )
    app = ui.launch(ui.build_app(hashiru), args.host, args.port, args.auth)
    url = f"http://{args.host}:{args.port}/"
    console.print(f"HASHIRU is on [bold]{url}[/] (Ctrl+C stops it)")
    try:
        if has_desktop() and not args.no_browser:
            browse = "127.0.0.1" if args.host in ANY_ADDRESS else args.host
            browse = f"[{browse}]" if ":" in browse else browse  # an IPv6 address
            await asyncio.to_thread(webbrowser.open, f"http://{browse}:{args.port}/")
        while True:
            await asyncio.sleep(3600)
    finally:
        ui.shutdown(app)


def has_desktop() -> bool:
    """Whether a browser opened here would show on a screen: never on a headless server,
    where a text browser could take over the terminal."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
