"""The values a person types on the command line, checked where they are parsed.

Each function here is an argparse `type`: it turns the text into a value or raises
ArgumentTypeError, so a bad value is one line ("argument --usd: ...") and exit status 2 before
anything is opened. Only the standard library: `hashiru --help` must stay cheap.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path

from hashiru.errors import ConfigError

# The ledger's own bounds (hashiru.economy.ledger.MAX_AMOUNT: nano-dollars and bytes must fit
# SQLite's 64-bit integers), checked here too so a refusal speaks of what the person typed.
# Not imported from the ledger: `--help` and a bad value must not load the runtime.
MAX_USD = Decimal(10**9)
MAX_GIB = Decimal(10**9)


def money(text: str) -> Decimal:
    """Dollars: a finite amount, zero or more."""
    amount = _decimal(text)
    if not 0 <= amount <= MAX_USD:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_USD:,} USD, got {text!r}")
    return amount


def gib(text: str) -> Decimal:
    """A memory size in GiB: finite and more than zero."""
    amount = _decimal(text)
    if not 0 < amount <= MAX_GIB:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_GIB:,} GiB, got {text!r}"
        )
    return amount


def seconds(text: str) -> float:
    """A duration: finite and more than zero."""
    value = float(_decimal(text))
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number from `minimum` to `maximum` (no upper bound if None)."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = "or more" if maximum is None else f"to {maximum}"
            raise argparse.ArgumentTypeError(f"must be {minimum} {upper}, got {value}")
        return value

    return whole_number


port = count(1, 65535)
"""A TCP port to serve on."""


def not_empty(hint: str) -> Callable[[str], str]:
    """Words that must say something: not empty, not only spaces."""

    def words(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"is empty: {hint}")
        return value

    return words


task = not_empty("say what the CEO should do")
name = not_empty("give a name")
phrase = not_empty("type some words")
conversation_id = not_empty("give a conversation id; `hashiru conversations` lists them")


def readable_file(value: str) -> Path:
    """A file that exists and can be read."""
    path = Path(value).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value} is not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {value}: permission denied")
    return path


def writable_file(value: str) -> Path:
    """A file to create or overwrite, in a folder that exists and can be written."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a folder: name a file in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {path.parent} to write {path.name} in")
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {value}: permission denied")
    return path


@contextmanager
def user_path(action: str) -> Iterator[None]:
    """What still goes wrong with a path the user chose (a full disk, a file where a folder
    should be, text that is not UTF-8) becomes one line, "Cannot <action>: why", not a trace."""
    try:
        yield
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot {action}: it is not UTF-8 text.") from None
    except OSError as exc:
        why = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else exc
        raise ConfigError(f"Cannot {action}: {why}.") from None


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
