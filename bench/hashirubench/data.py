"""Where the data sets live, and fetching them when asked.

The data is never copied into the repository: a data directory holds one folder per task
(`gsm8k/test.jsonl`, ...), laid out as in `../shared/bench-data`. Without the files, the error
says where to put them and where they come from; `--download` fetches them.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "bench-data"


class BenchError(Exception):
    """A problem with the benchmark's inputs; the message says what to do."""


@dataclass(frozen=True)
class DataFile:
    """One task's data file: its place in the data directory and its public source."""

    folder: str
    name: str
    url: str
    licence: str

    def path(self, data_dir: Path) -> Path:
        return data_dir / self.folder / self.name


def default_data_dir() -> Path:
    """`../shared/bench-data` beside the checkout where it exists, else a user cache folder."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "hashirubench"


def locate(data_dir: Path, data: DataFile) -> Path:
    """The data file's path, or a BenchError saying where to put it and where to get it."""
    path = data.path(data_dir)
    if not path.is_file():
        raise BenchError(
            f"{path} is missing. Put the file there (from {data.url}, {data.licence}), "
            "or add --download to fetch it, or point --data-dir at a folder that has it."
        )
    return path


def download(data_dir: Path, data: DataFile) -> Path:
    """Fetch the data file from its public source unless it is already there."""
    path = data.path(data_dir)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    try:
        with urllib.request.urlopen(data.url, timeout=60) as response:
            partial.write_bytes(response.read())
    except OSError as exc:
        raise BenchError(f"Could not download {data.url}: {exc}") from None
    partial.replace(path)
    return path
