"""`bench run --record DIR` and `--replay DIR`: a run's model calls kept, and the run re-scored
from them without a model call.

A cassette belongs to a Hashiru's providers, and the runner runs K items at once on one shared
Hashiru (one per item would reload local models, restart MCP servers and, on start, fire the
hires of items still running). So a run has one cassette: replay matches a request by its
content, not its order, so one cassette serves every item, run concurrently or not.

It is kept in DIR/{task}-{system}-{model}/ as numbered pieces. As each item finishes, before
its record is written, the calls recorded since the previous piece become the next piece: what
is written and held in memory grows with the run, not with its square, and a record is never
on disk without its calls, so a resumed or extended run keeps every piece and adds its own.
A replay plays every piece as one cassette, newest first: an item recorded twice (an error
retried) is answered from its last attempt, the one its latest record scored, not from the
calls of the one that failed.
"""

from __future__ import annotations

from pathlib import Path

from bench.hashirubench.data import BenchError
from hashiru import Cassette, Settings, new_cassette


class Recorder:
    """A run's cassette, written to `folder` a piece at a time."""

    def __init__(self, folder: Path, settings: Settings, model: str) -> None:
        self.folder = folder
        self.cassette = new_cassette(settings)
        self.cassette.settings["ceo_model"] = model  # what `hashiru run --replay` would run
        self._next = max(map(_number, _pieces(folder)), default=0) + 1

    def flush(self) -> None:
        """Write what was recorded since the last piece as the next one (nothing: no piece),
        and let it go: recording only appends, so a long run holds one piece in memory."""
        cassette = self.cassette
        recorded = {"calls": cassette.calls, "lookups": cassette.lookups, "tools": cassette.tools}
        if not any(recorded.values()):
            return
        piece = cassette.model_copy(update={name: list(kept) for name, kept in recorded.items()})
        for kept in recorded.values():
            kept.clear()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self._next:05d}.json"
        self._next += 1
        partial = path.with_suffix(".part")  # a run killed mid-write leaves no broken piece
        piece.save(partial)
        partial.replace(path)


def played(folder: Path) -> Cassette:
    """Every piece recorded in `folder` as one cassette, the newest piece's calls first."""
    pieces = sorted(_pieces(folder), key=_number, reverse=True)
    if not pieces:
        raise BenchError(
            f"{folder} holds no recorded calls of this run: record them with --record "
            f"{folder.parent} (the same task, --system and --model), then replay."
        )
    cassettes = [Cassette.load(path) for path in pieces]
    providers = {name: local for c in reversed(cassettes) for name, local in c.providers.items()}
    return cassettes[0].model_copy(
        update={
            "providers": providers,
            "calls": [call for c in cassettes for call in c.calls],
            "lookups": [lookup for c in cassettes for lookup in c.lookups],
            "tools": [tool for c in cassettes for tool in c.tools],
        }
    )


def _pieces(folder: Path) -> list[Path]:
    return [path for path in folder.glob("*.json") if path.stem.isdigit()]


def _number(path: Path) -> int:
    return int(path.stem)
