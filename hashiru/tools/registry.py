"""Generated tools on disk: every version of every tool the CEO wrote, with its manifest.

    HASHIRU_HOME/tools/<name>/manifest.json   schema, versions (code hash, run, time), state
    HASHIRU_HOME/tools/<name>/v<N>.py         the code of version N
    HASHIRU_HOME/tools/.archive/<name>-<time>/ a deleted tool, kept for the record

Files are written whole and renamed into place, so a crash leaves the previous manifest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from hashiru.tools.base import ToolFailure

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,48}$")


class ToolVersion(BaseModel):
    version: int
    code_sha256: str
    created_by_run: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ToolManifest(BaseModel):
    """What the registry knows of one generated tool; the current version is the last."""

    name: str
    description: str
    parameters: dict
    needs_network: bool = False
    enabled: bool = True
    approved: bool = True
    versions: list[ToolVersion]

    @property
    def version(self) -> int:
        return self.versions[-1].version

    @property
    def active(self) -> bool:
        return self.enabled and self.approved


class ToolRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def manifests(self) -> list[ToolManifest]:
        if not self.root.is_dir():
            return []
        return [
            self.get(path.parent.name)
            for path in sorted(self.root.glob("*/manifest.json"))
            if not path.parent.name.startswith(".")
        ]

    def get(self, name: str) -> ToolManifest:
        path = self.root / name / "manifest.json"
        if not NAME_PATTERN.fullmatch(name) or not path.is_file():
            raise ToolFailure(f"no generated tool named {name!r}")
        return ToolManifest.model_validate_json(path.read_text("utf-8"))

    def code(self, name: str, version: int | None = None) -> str:
        manifest = self.get(name)
        return (self.root / name / f"v{version or manifest.version}.py").read_text("utf-8")

    def save(
        self,
        *,
        name: str,
        description: str,
        parameters: dict,
        code: str,
        needs_network: bool,
        approved: bool,
        run_id: str,
    ) -> ToolManifest:
        """Register `code` as the next version of `name` (version 1 for a new tool)."""
        folder = self.root / name
        existing = self.get(name) if (folder / "manifest.json").is_file() else None
        previous = existing.versions if existing else []
        version = ToolVersion(
            version=(previous[-1].version + 1) if previous else 1,
            code_sha256=hashlib.sha256(code.encode()).hexdigest(),
            created_by_run=run_id,
        )
        manifest = ToolManifest(
            name=name,
            description=description,
            parameters=parameters,
            needs_network=needs_network,
            enabled=existing.enabled if existing else True,  # the user's choice stands
            approved=approved,
            versions=[*previous, version],
        )
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / f"v{version.version}.py", code)
        self._store(manifest)
        return manifest

    def update(
        self, name: str, *, enabled: bool | None = None, approved: bool | None = None
    ) -> ToolManifest:
        changes = {
            k: v for k, v in {"enabled": enabled, "approved": approved}.items() if v is not None
        }
        manifest = self.get(name).model_copy(update=changes)
        self._store(manifest)
        return manifest

    def delete(self, name: str) -> Path:
        """Move the tool, every version, to the archive; returns where it went."""
        self.get(name)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        archived = self.root / ".archive" / f"{name}-{stamp}"
        archived.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.root / name, archived)
        return archived

    def _store(self, manifest: ToolManifest) -> None:
        _write(self.root / manifest.name / "manifest.json", manifest.model_dump_json(indent=2))


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
