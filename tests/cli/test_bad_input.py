"""Fault 5: a bad value on the command line is one short line and exit status 1 or 2, never
a stack trace, whichever command and flag it is given to."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from hashiru.cli import main

NOT_NUMBERS = ("abc", "nan", "NaN", "inf", "-Infinity", "", "1,5")


def refused(argv: list[str], flag: str, values: Iterable[str]) -> list[tuple[list[str], str]]:
    """`argv FLAG VALUE` for each value, each to be refused naming the flag."""
    return [([*argv, flag, value], f"argument {flag}") for value in values]


# (argv, what stderr must say); {tmp} is the test's folder, which holds file.txt
BAD: list[tuple[list[str], str]] = [
    # run: the task, the caps and the CEO's model
    *((["run", task], "argument task: is empty") for task in ("", "   ", "\n")),
    *refused(["run", "hi"], "--budget-usd", (*NOT_NUMBERS, "-5", "-0.01", "1e30")),
    *refused(["run", "hi"], "--max-steps", (*NOT_NUMBERS, "0", "-3", "2.5")),
    (["run", "hi", "--max-steps", "500"], "max_steps"),  # the policy's own bound
    *refused(["run", "hi"], "--max-seconds", (*NOT_NUMBERS, "0", "-1", "1e999")),
    *refused(["run", "hi"], "--ceo", ("", " ")),
    (["run", "hi", "--ceo", "gpt-5"], "provider:model"),
    # budget
    *refused(["budget", "set"], "--usd", (*NOT_NUMBERS, "-5", "1e30")),
    *refused(["budget", "set"], "--memory-gib", (*NOT_NUMBERS, "0", "-1", "1e30")),
    (["budget", "--usd", "3"], "hashiru budget set"),
    # ledger, scorecard, fire, tools
    *refused(["ledger"], "--run", ("",)),
    *refused(["scorecard"], "--kind", ("",)),
    (["scorecard", "--kind", "poetry"], "Unknown task kind 'poetry'"),
    (["fire", ""], "argument name: is empty"),
    (["fire", "ghost"], "No employee named 'ghost'"),
    (["tools", "show"], "Say which tool"),
    (["tools", "show", ""], "argument name: is empty"),
    (["tools", "enable", "ghost"], "ghost"),
    # memory: missing and unusable files, empty words, bad counts
    (["memory", "import", "{tmp}/missing.jsonl"], "argument file: no such file"),
    (["memory", "import", "{tmp}"], "argument file: {tmp} is not a file"),
    (["memory", "import"], "required: file"),
    (["memory", "export", "{tmp}/no/folder/m.jsonl"], "argument file: no folder"),
    (["memory", "export", "{tmp}/file.txt/m.jsonl"], "argument file: no folder"),
    (["memory", "export", "{tmp}"], "argument file: {tmp} is a folder"),
    (["memory", "search", ""], "argument query: is empty"),
    *refused(["memory", "search", "x"], "-k", ("0", "-1", "abc", "")),
    (["memory", "add", " "], "argument text: is empty"),
    (["memory", "delete", ""], "argument id: is empty"),
    (["memory", "delete"], "required: id"),
    (["memory", "forget"], "invalid choice"),
    # ui
    *refused(["ui"], "--port", ("0", "-1", "65536", "99999", "abc", "80.5", "")),
    *refused(["ui"], "--host", ("",)),
    # no such command or flag
    (["doctor", "--bogus"], "unrecognized arguments"),
    (["bogus"], "invalid choice"),
]


def outcome(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and stderr of `hashiru ARGV`, run in this process."""
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's way out
        status = exc.code
    return status, capsys.readouterr().err


def assert_one_clear_line(status: int, err: str, says: str) -> None:
    """Status 1 (refused by HASHIRU) or 2 (by the parser), and an error line saying `says`;
    the parser's usage lines may come before it."""
    assert status in (1, 2), err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last and says in last and len(last) <= 200, err


@pytest.mark.parametrize(("argv", "says"), BAD, ids=[" ".join(map(repr, a)) for a, _ in BAD])
def test_a_bad_value_is_one_clear_line(argv: list[str], says: str, tmp_path: Path, capsys):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    status, err = outcome(argv, capsys)
    assert_one_clear_line(status, err, says.format(tmp=tmp_path))


def test_a_file_that_is_not_text_is_one_clear_line(tmp_path: Path, capsys) -> None:
    backup = tmp_path / "memories.jsonl"
    backup.write_bytes(b"\xff\xfe not utf-8\n")
    status, err = outcome(["memory", "import", str(backup)], capsys)
    assert status == 1
    assert_one_clear_line(status, err, f"Cannot read {backup}: it is not UTF-8 text.")


def test_a_home_that_is_a_file_is_one_clear_line(tmp_path: Path, capsys, monkeypatch) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("HASHIRU_HOME", str(home))
    status, err = outcome(["agents"], capsys)
    assert status == 1
    assert_one_clear_line(status, err, f"Cannot use {home} as the workspace (HASHIRU_HOME)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_that_cannot_be_written_is_refused(tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    status, err = outcome(["memory", "export", str(locked / "m.jsonl")], capsys)
    assert_one_clear_line(status, err, "permission denied")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["budget", "set", "--usd", "-5"], "argument --usd: must be from 0"),
        (["run", ""], "argument task: is empty: say what the CEO should do"),
    ],
)
def test_the_installed_command_refuses_without_a_trace(argv: list[str], says: str) -> None:
    command = Path(sys.executable).with_name("hashiru")
    done = subprocess.run([command, *argv], capture_output=True, text=True, timeout=120)
    assert done.stdout == ""
    assert_one_clear_line(done.returncode, done.stderr, says)


def test_the_cli_refuses_what_the_ledger_cannot_keep_in_the_units_typed() -> None:
    """The CLI's bounds are the ledger's: a size the ledger would refuse in bytes is refused
    at parse time, in GiB."""
    from hashiru.cli.arguments import MAX_GIB, MAX_USD
    from hashiru.economy.ledger import MAX_AMOUNT

    assert MAX_USD == MAX_GIB == MAX_AMOUNT
