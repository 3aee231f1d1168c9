"""Runs a parsed command on the workspace, and makes any HashiruError one line on stderr."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Awaitable, Callable

from rich.markup import escape

from hashiru.cli.arguments import user_path
from hashiru.cli.output import errors
from hashiru.errors import HashiruError
from hashiru.runtime import Hashiru
from hashiru.settings import Settings

Handler = Callable[[Hashiru, argparse.Namespace], Awaitable[int]]


def execute(args: argparse.Namespace) -> int:
    """The exit status: the command's, 1 for a HashiruError, 130 for Ctrl+C."""
    try:
        command = handler(args.handler)
        settings = Settings.load()
        with user_path(f"use {settings.home} as the workspace (HASHIRU_HOME)"):
            hashiru = Hashiru.from_settings(settings)
        return asyncio.run(_command(command, hashiru, args))
    except HashiruError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        return 130


def handler(name: str) -> Handler:
    """The function "module:function" names in hashiru.cli, imported now."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(f"hashiru.cli.{module}"), function)


async def _command(command: Handler, hashiru: Hashiru, args: argparse.Namespace) -> int:
    try:
        return await command(hashiru, args)
    finally:
        await hashiru.aclose()
