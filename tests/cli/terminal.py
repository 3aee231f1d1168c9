"""Running `hashiru` on a pseudo-terminal, as a person at a keyboard does: prompts are shown and
answers typed."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HASHIRU = str(Path(sys.executable).with_name("hashiru"))


@contextmanager
def on_a_terminal(args: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, int]]:
    """`hashiru ARGS` with a terminal for stdin, stdout and stderr; the terminal's other end."""
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [HASHIRU, *args], stdin=terminal, stdout=terminal, stderr=terminal, env=os.environ | env
    )
    os.close(terminal)
    try:
        yield process, main
    finally:
        process.kill()
        os.close(main)


def read_until(fd: int, text: str, seconds: float = 60) -> str:
    """What the terminal shows until `text` appears (after what was read before it)."""
    seen, deadline = "", time.monotonic() + seconds
    while text not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, seen
        if select.select([fd], [], [], remaining)[0]:
            seen += os.read(fd, 4096).decode(errors="replace")
    return seen
