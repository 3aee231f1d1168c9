"""Runs a parsed command on the workspace, and makes any HashiruError one line on stderr."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from rich.markup import escape

from hashiru.cli.arguments import user_path
from hashiru.cli.output import errors
from hashiru.errors import HashiruError
from hashiru.providers.cassette import Cassette
from hashiru.runtime import Hashiru, new_cassette
from hashiru.settings import Settings

Handler = Callable[[Hashiru, argparse.Namespace], Awaitable[int]]
UI_HANDLER = "app:ui_command"
"""`hashiru ui`'s handler (see `traced`)."""


def execute(args: argparse.Namespace) -> int:
    """The exit status: the command's, 1 for a HashiruError, 130 for Ctrl+C."""
    try:
        command = handler(args.handler)
        replay, tape = _cassette_flags(args)
        played = Cassette.load(tape) if replay and tape else None
        settings = Settings.load(
            tracing=True if traced(args) else None,
            ceo_model=played.ceo_model if played and not getattr(args, "ceo", None) else None,
        )
        cassette = played or (new_cassette(settings) if tape else None)
        with user_path(f"use {settings.home} as the workspace (HASHIRU_HOME)"):
            hashiru = Hashiru.from_settings(settings, cassette=cassette, replay=replay)
        return asyncio.run(_command(command, hashiru, args))
    except HashiruError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        return 130


def traced(args: argparse.Namespace) -> bool:
    """Whether the command shows spans, so needs tracing on: `run --trace` writes them to a
    file, `ui` draws each turn's as a waterfall."""
    return bool(getattr(args, "trace", None)) or args.handler == UI_HANDLER


def _cassette_flags(args: argparse.Namespace) -> tuple[Literal["", "only", "new"], Path | None]:
    """How `hashiru run` uses a cassette (`--record`, `--replay`, `--replay-new`), and which."""
    if path := getattr(args, "replay", None):
        return "only", path
    if path := getattr(args, "replay_new", None):
        return "new", path
    return "", getattr(args, "record", None)


def handler(name: str) -> Handler:
    """The function "module:function" names in hashiru.cli, imported now."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(f"hashiru.cli.{module}"), function)


async def _command(command: Handler, hashiru: Hashiru, args: argparse.Namespace) -> int:
    try:
        return await command(hashiru, args)
    finally:
        await hashiru.aclose()
