"""`hashiru doctor`: which model backends answer here, the CEO's model, the sandbox's layers.

It asks every backend, so it imports their SDKs; no other command does.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from rich.markup import escape
from rich.table import Table

from hashiru.cli.output import console
from hashiru.errors import HashiruError
from hashiru.providers import ModelInfo
from hashiru.providers.discovery import survey
from hashiru.runtime import Hashiru


async def doctor_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    # the sandbox's layers are probed in a real worker: off the loop, beside the survey
    statuses, layers = await asyncio.gather(
        survey(hashiru.providers), asyncio.to_thread(hashiru.sandbox.layers)
    )
    try:
        ceo = await hashiru.ceo_model()
    except HashiruError as exc:
        ceo = None
        reason = str(exc)
    if args.json:
        report = {
            "ceo_model": ceo,
            "backends": [s.model_dump() for s in statuses],
            "sandbox_layers": layers,
        }
        print(json.dumps(report))
        return 0
    table = Table("backend", "kind", "available", "models (context window) / why not")
    for status in statuses:
        models = ", ".join(_model(m) for m in status.models[:6])
        table.add_row(
            status.name,
            "local" if status.local else "cloud",
            "[green]yes[/]" if status.available else "[red]no[/]",
            escape(models if status.available else status.reason),
        )
    console.print(table)
    console.print(f"CEO model: [bold]{ceo}[/]" if ceo else f"[red]{escape(reason)}[/]")
    console.print(f"Sandbox layers: {', '.join(layers)}")
    return 0


def _model(info: ModelInfo) -> str:
    """A model and its window, the most context a request to it may hold: `ollama:x (8,192)`."""
    return f"{info.ref} ({info.context_tokens:,})" if info.context_tokens else info.ref
