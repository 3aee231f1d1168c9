"""Edits `HASHIRU_HOME/hashiru.toml` for `hashiru mcp add|remove|enable|disable`.

The file is the user's: their comments, order and spacing stay as they were (tomlkit edits it in
place). An edit is checked by loading Settings from the new text before anything is written, so a
bad server is refused in one line and the file is left as it was; the new text then replaces the
file in one step (a temporary file beside it, renamed over it), so a crash never leaves half a
file. When the file holds a secret (an MCP server's `env` or `headers`, an API key) it is made
readable by its owner only (0600).
"""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import SecretStr
from tomlkit.exceptions import TOMLKitError
from tomlkit.toml_document import TOMLDocument

from hashiru.errors import ConfigError
from hashiru.locks import exclusive
from hashiru.settings import Settings

CONFIG_NAME = "hashiru.toml"
PRIVATE = 0o600
"""The mode of a file that holds a secret: its owner reads and writes it, no one else."""
SHARED = 0o644
"""The mode of a new file without secrets."""


@dataclass(frozen=True)
class Written:
    """Where the edit went, and whether the file now holds a secret (and so is 0600)."""

    path: Path
    private: bool


def add_mcp_server(
    home: Path, name: str, server: Mapping[str, Any], *, replace: bool = False
) -> Written:
    """Add `[mcp_servers.NAME]` with `server`'s keys (as hashiru.toml spells them: command, args,
    env, cwd, url, headers, enabled, approval, timeout). A server of that name is refused unless
    `replace`, which swaps its whole table (comments inside it go with it)."""

    def edit(doc: TOMLDocument) -> None:
        servers = doc.get("mcp_servers")
        if servers is None:
            servers = doc["mcp_servers"] = tomlkit.table(is_super_table=True)
        if name in servers and not replace:
            raise ConfigError(
                f"An MCP server named '{name}' is in {CONFIG_NAME} already: "
                "add --replace to replace it, or `hashiru mcp remove` it first."
            )
        table = tomlkit.table()
        for key, value in server.items():
            table[key] = _inline(value) if isinstance(value, Mapping) else value
        table.add(tomlkit.nl())  # a blank line before whatever table follows
        servers[name] = table

    return _edit(home, edit)


def remove_mcp_server(home: Path, name: str) -> Written:
    """Remove `[mcp_servers.NAME]`; the rest of the file stays as it is."""

    def edit(doc: TOMLDocument) -> None:
        del _servers(doc, name)[name]

    return _edit(home, edit)


def enable_mcp_server(home: Path, name: str, enabled: bool) -> Written:
    """Set the server's `enabled` (a server with no `enabled` is enabled: nothing to write)."""

    def edit(doc: TOMLDocument) -> None:
        table = _servers(doc, name)[name]
        if "enabled" in table or not enabled:
            table["enabled"] = enabled

    return _edit(home, edit)


def _servers(doc: TOMLDocument, name: str) -> Any:
    """The document's `mcp_servers`, which must hold `name`."""
    servers = doc.get("mcp_servers", {})
    if name not in servers:
        raise ConfigError(
            f"No MCP server named '{name}' in {CONFIG_NAME}: `hashiru mcp list` shows them."
        )
    return servers


def _inline(values: Mapping[str, Any]) -> Any:
    table = tomlkit.inline_table()
    table.update(values)
    return table


def _edit(home: Path, edit: Callable[[TOMLDocument], None]) -> Written:
    """Read the file (none yet: an empty one), `edit` it, check it, and write it in one step."""
    path = (home.expanduser() / CONFIG_NAME).resolve()  # through a link: edit the file it names
    with exclusive(path):  # two edits at once: the second reads what the first wrote
        existed = path.exists()
        try:
            doc = tomlkit.parse(path.read_text(encoding="utf-8") if existed else "")
        except (TOMLKitError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML, so it was left as it is: {exc}") from None
        edit(doc)
        text = tomlkit.dumps(doc).rstrip("\n") + "\n"
        private = _holds_secret(_checked(home, text))
        mode = PRIVATE if private else stat.S_IMODE(path.stat().st_mode) if existed else SHARED
        _replace(path, text, mode)
    return Written(path, private)


def _checked(home: Path, text: str) -> Settings:
    """The settings `text` gives on its own, the environment set aside: a bad value raises the
    one-line ConfigError naming it. (Only `mcp_servers` is edited here: it is the one table
    that may have gone from the text, and must not come back from the file on disk.)"""
    values = tomllib.loads(text)
    values.setdefault("mcp_servers", {})
    try:
        return Settings.load(environ={}, **{**values, "home": home})
    except ConfigError as exc:
        raise ConfigError(f"{exc} {CONFIG_NAME} was left as it is.") from None


def _holds_secret(settings: Settings) -> bool:
    keys = [value for value in dict(settings).values() if isinstance(value, SecretStr)]
    return bool(keys) or any(s.env or s.headers for s in settings.mcp_servers.values())


def _replace(path: Path, text: str, mode: int) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), mode)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
