"""The file tools: read, list and write text files inside one workspace folder.

Every path is resolved against the workspace with symlinks followed, and refused unless the
result lies inside the resolved workspace: `..`, absolute paths elsewhere and symlinks (or
symlinked folders) that point out all fail that one check. Sizes are capped so that one call
cannot flood the model's context or the disk.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from hashiru.tools.base import Tool, ToolFailure, tool

MAX_READ_BYTES = 1_000_000
MAX_WRITE_BYTES = 1_000_000
MAX_LIST_ENTRIES = 500

PathArg = Annotated[str, Field(description="A path relative to the workspace folder")]


class Workspace:
    """The folder the file tools may touch; it is created on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def root(self) -> Path:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return self.folder.resolve(strict=True)
        except OSError as exc:
            raise ToolFailure(f"cannot use the workspace folder {self.folder}: {exc}") from None

    def resolve(self, path: str) -> tuple[Path, str]:
        """The real path `path` names and its workspace-relative form; refuse what lies outside."""
        root = self.root
        try:
            target = (root / path).resolve(strict=False)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ToolFailure(f"invalid path {path!r}: {exc}") from None
        if not target.is_relative_to(root):
            raise ToolFailure(
                f"{path!r} is outside the workspace ({root}); the file tools reach only files "
                "inside it. Use a path relative to the workspace."
            )
        return target, target.relative_to(root).as_posix()


def file_tools(workspace: Path) -> list[Tool]:
    """read_file, list_files and write_file, confined to the folder `workspace`.

    The file work runs in a thread: a megabyte read or written must not stall the event loop.
    """
    folder = Workspace(workspace)

    async def read_file(path: PathArg) -> str:
        """Read a UTF-8 text file from the workspace (at most 1 MB)."""
        return await asyncio.to_thread(_read, folder, path)

    async def list_files(
        path: Annotated[str, Field(description="A folder relative to the workspace")] = ".",
    ) -> dict[str, Any]:
        """List a workspace folder: each entry's name, type (file, dir, link) and size."""
        return await asyncio.to_thread(_list, folder, path)

    async def write_file(
        path: PathArg,
        text: Annotated[str, Field(description="The whole new content (UTF-8, at most 1 MB)")],
    ) -> dict[str, Any]:
        """Write a text file in the workspace, replacing it and creating its folders as needed."""
        return await asyncio.to_thread(_write, folder, path, text)

    return [tool(read_file), tool(list_files), tool(write_file)]


def _read(folder: Workspace, path: str) -> str:
    target, shown = folder.resolve(path)
    _require(target, shown, "a file")
    try:
        size = target.stat().st_size
        if size > MAX_READ_BYTES:
            raise ToolFailure(_too_big(shown, size, "read_file reads", MAX_READ_BYTES))
        with target.open("rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)
    except OSError as exc:
        raise ToolFailure(f"cannot read {shown}: {exc.strerror or exc}") from None
    if len(data) > MAX_READ_BYTES:
        raise ToolFailure(_too_big(shown, len(data), "read_file reads", MAX_READ_BYTES))
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise ToolFailure(f"{shown} is binary, not UTF-8 text; read_file reads only text.")
    return text


def _list(folder: Workspace, path: str) -> dict[str, Any]:
    target, shown = folder.resolve(path)
    _require(target, shown, "a folder")
    try:
        with os.scandir(target) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        listed = [_describe(entry) for entry in entries[:MAX_LIST_ENTRIES]]
    except OSError as exc:
        raise ToolFailure(f"cannot list {shown}: {exc.strerror or exc}") from None
    result: dict[str, Any] = {"path": shown, "entries": listed, "total": len(entries)}
    result["truncated"] = len(entries) > MAX_LIST_ENTRIES
    if result["truncated"]:
        result["note"] = f"showing the first {MAX_LIST_ENTRIES} of {len(entries)} entries"
    return result


def _write(folder: Workspace, path: str, text: str) -> dict[str, Any]:
    target, shown = folder.resolve(path)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ToolFailure(f"the text for {shown} is not valid Unicode: {exc.reason}") from None
    if len(data) > MAX_WRITE_BYTES:
        raise ToolFailure(_too_big("the text", len(data), "write_file writes", MAX_WRITE_BYTES))
    if target.is_dir():
        raise ToolFailure(f"{shown} is a folder; give write_file a file path.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, data)
    except OSError as exc:
        raise ToolFailure(f"cannot write {shown}: {exc.strerror or exc}") from None
    return {"path": shown, "bytes": len(data)}


def _require(target: Path, shown: str, kind: str) -> None:
    if not target.exists():
        raise ToolFailure(f"{shown} does not exist in the workspace; list_files shows what does.")
    if kind == "a file" and target.is_dir():
        raise ToolFailure(f"{shown} is a folder; use list_files to see inside it.")
    if kind == "a folder" and not target.is_dir():
        raise ToolFailure(f"{shown} is not a folder; use read_file to read it.")


def _too_big(what: str, size: int, verb: str, limit: int) -> str:
    return f"{what} is {size:,} bytes; {verb} at most {limit:,} bytes."


def _describe(entry: os.DirEntry[str]) -> dict[str, Any]:
    if entry.is_symlink():
        return {"name": entry.name, "type": "link"}
    if entry.is_dir(follow_symlinks=False):
        return {"name": entry.name, "type": "dir"}
    kind = "file" if entry.is_file(follow_symlinks=False) else "other"
    return {"name": entry.name, "type": kind, "size": entry.stat(follow_symlinks=False).st_size}


def _write_atomically(target: Path, data: bytes) -> None:
    """Write beside the target, then rename over it: readers see the old or the new file."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
