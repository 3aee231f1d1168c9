"""`hashiru mcp`: servers added, listed, tested, disabled and removed on a real HASHIRU_HOME (the
user's comments in hashiru.toml kept, bad input refused in one line with the file untouched,
no secret ever printed), against real MCP servers (tests.fakes.mcp_servers); and `mcp serve`
driven by the real `mcp` client over stdio."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from hashiru.cli import main
from tests.cli.test_bad_input import assert_one_clear_line
from tests.fakes.mcp_servers import NEVER_STARTS, http_server, stdio_command, unused_url

REPO = Path(__file__).resolve().parents[2]
ENV_SECRET = "env-s3cret-value"
HEADER_SECRET = "header-s3cret-token"
SECRETS = (ENV_SECRET, HEADER_SECRET)
USERS_FILE = """\
# My HASHIRU settings: keep this comment.
budget_usd = 3  # a small budget while I try things

[models."ollama:qwen3:8b"]
context_tokens = 32768  # what my machine holds
"""


@pytest.fixture
def home() -> Path:
    """The test's HASHIRU_HOME, with the user's own hashiru.toml in it."""
    path = Path(os.environ["HASHIRU_HOME"])
    path.mkdir(parents=True, exist_ok=True)
    (path / "hashiru.toml").write_text(USERS_FILE)
    return path


@pytest.fixture
def token_server() -> Iterator[str]:
    """A streamable HTTP test server that wants `Authorization: Bearer HEADER_SECRET`."""
    with http_server("ok", token=HEADER_SECRET) as url:
        yield url


def hashiru(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`hashiru ARGV` in this process: its exit status, stdout and stderr."""
    capsys.readouterr()  # what earlier calls left
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in out + err, f"a secret was shown by hashiru {' '.join(argv)}"
    return status, out, err


def add_stdio(capsys, name: str, mode: str = "ok", *flags: str) -> tuple[int, str, str]:
    command, args = stdio_command(mode)
    return hashiru(capsys, "mcp", "add", name, "--cwd", str(REPO), *flags, "--", command, *args)


def servers(home: Path) -> dict:
    return tomllib.loads((home / "hashiru.toml").read_text())["mcp_servers"]


def mode(home: Path) -> int:
    return stat.S_IMODE((home / "hashiru.toml").stat().st_mode)


def test_add_and_remove_edit_the_users_file_and_keep_its_comments(home: Path, capsys) -> None:
    os.chmod(home / "hashiru.toml", 0o644)
    status, out, _ = add_stdio(capsys, "local", "ok", "--env", f"TOKEN={ENV_SECRET}")
    assert status == 0 and "Added MCP server 'local'" in out
    assert "0600" in out  # it says the file now holds a secret and only its owner reads it
    status, out, _ = hashiru(
        capsys, "mcp", "add", "remote", "--url", "http://127.0.0.1:9/mcp",
        "--header", f"Authorization: Bearer {HEADER_SECRET}", "--approval", "always",
        "--timeout", "5",
    )  # fmt: skip
    assert status == 0

    text = (home / "hashiru.toml").read_text()
    assert text.startswith(USERS_FILE)  # the user's lines, comments and spacing as they were
    assert mode(home) == 0o600
    command, args = stdio_command("ok")
    assert servers(home) == {
        "local": {
            "command": command,
            "args": list(args),
            "env": {"TOKEN": ENV_SECRET},  # the file is the user's config: secrets go in it
            "cwd": str(REPO),
        },
        "remote": {
            "url": "http://127.0.0.1:9/mcp",
            "headers": {"Authorization": f"Bearer {HEADER_SECRET}"},
            "approval": "always",
            "timeout": 5.0,
        },
    }

    assert hashiru(capsys, "mcp", "disable", "remote")[0] == 0
    assert servers(home)["remote"]["enabled"] is False
    assert hashiru(capsys, "mcp", "enable", "remote")[0] == 0
    assert servers(home)["remote"]["enabled"] is True

    for name in ("local", "remote"):
        status, out, _ = hashiru(capsys, "mcp", "remove", name)
        assert status == 0 and f"Removed MCP server '{name}'" in out
    assert (home / "hashiru.toml").read_text() == USERS_FILE  # as it was before
    assert not [p.name for p in home.iterdir() if p.name.startswith(".hashiru.toml")]


def test_replace_swaps_a_server_only_when_asked(home: Path, capsys) -> None:
    users_mode = mode(home)
    assert add_stdio(capsys, "local")[0] == 0
    before = (home / "hashiru.toml").read_text()
    status, _, err = hashiru(capsys, "mcp", "add", "local", "--url", "http://127.0.0.1:9/mcp")
    assert_one_clear_line(status, err, "add --replace to replace it")
    assert (home / "hashiru.toml").read_text() == before
    assert (
        hashiru(capsys, "mcp", "add", "local", "--url", "http://127.0.0.1:9/mcp", "--replace")[0]
        == 0
    )
    assert servers(home) == {"local": {"url": "http://127.0.0.1:9/mcp"}}
    assert mode(home) == users_mode  # no secret in it: its mode is the user's


STDIO = ["--", sys.executable, "-m", "tests.fakes.mcp_servers", "stdio"]
BAD: list[tuple[list[str], str]] = [
    (["add", "bad.name", *STDIO], "name 'bad.name': use up to 32 letters"),
    (["add", "-", *STDIO], "use up to 32 letters"),
    (["add", "x" * 33, *STDIO], "use up to 32 letters"),
    (["add", "", *STDIO], "argument NAME: is empty"),
    (["add", "web", "--url", "http://127.0.0.1:9/mcp", "--env", f"K={ENV_SECRET}"], "not a url"),
    (["add", "cmd", "--header", f"Authorization: {HEADER_SECRET}", *STDIO], "not a command"),
    (["add", "web", "--url", "http://127.0.0.1:9/mcp", *STDIO], "Say how to reach the server"),
    (["add", "nothing"], "Say how to reach the server"),
    (["add", "web", "--url", f"ftp://127.0.0.1/{HEADER_SECRET}"], "argument --url: give an http"),
    (["add", "web", "--url", "127.0.0.1:9"], "argument --url: give an http"),
    (["add", "cmd", "--env", ENV_SECRET, *STDIO], "argument --env: give KEY=VALUE"),
    (["add", "cmd", "--env", f"={ENV_SECRET}", *STDIO], "argument --env: give KEY=VALUE"),
    (["add", "web", "--url", "http://x/mcp", "--header", HEADER_SECRET], "argument --header"),
    (["add", "cmd", "--timeout", "0", *STDIO], "argument --timeout"),
    (["add", "cmd", "--timeout", "inf", *STDIO], "argument --timeout"),
    (["add", "cmd", "--approval", "sometimes", *STDIO], "invalid choice"),
    (["add", "cmd", "--cwd", "/no/such/folder", *STDIO], "argument --cwd: no folder"),
    (["add", "old", *STDIO], "is in hashiru.toml already"),
    (["remove", "ghost"], "No MCP server named 'ghost'"),
    (["enable", "ghost"], "No MCP server named 'ghost'"),
    (["test", "ghost"], "No MCP server named 'ghost'"),
    (["remove"], "required: name"),
    (["serve", "--token", HEADER_SECRET], "are for `hashiru mcp serve --http`"),
    (["serve", "--port", "65536"], "argument --port"),
    (["list", "--bogus"], "unrecognized arguments"),
]


@pytest.mark.parametrize(
    ("argv", "says"), BAD, ids=[" ".join(a[: a.index("--")] if "--" in a else a) for a, _ in BAD]
)
def test_bad_input_is_one_clear_line_and_the_file_is_untouched(
    home: Path, capsys, argv: list[str], says: str
) -> None:
    assert add_stdio(capsys, "old")[0] == 0
    before = (home / "hashiru.toml").read_bytes(), (home / "hashiru.toml").stat().st_mtime_ns
    status, _, err = hashiru(capsys, "mcp", *argv)
    assert_one_clear_line(status, err, says)
    assert before == (
        (home / "hashiru.toml").read_bytes(),
        (home / "hashiru.toml").stat().st_mtime_ns,
    )


def test_a_broken_file_is_refused_and_left_as_it_is(home: Path, capsys) -> None:
    (home / "hashiru.toml").write_text(USERS_FILE + "[mcp_servers.x\n")
    before = (home / "hashiru.toml").read_text()
    status, _, err = add_stdio(capsys, "local")
    assert_one_clear_line(status, err, "is not valid TOML")
    assert (home / "hashiru.toml").read_text() == before


def test_list_shows_whether_each_server_starts_its_tools_and_no_secret(
    home: Path, capsys, monkeypatch, token_server: str
) -> None:
    add_stdio(capsys, "local", "ok", "--env", f"TOKEN={ENV_SECRET}")
    bearer = f"Authorization: Bearer {HEADER_SECRET}"
    hashiru(capsys, "mcp", "add", "remote", "--url", token_server, "--header", bearer)
    add_stdio(capsys, "broken", "never-start")
    hashiru(capsys, "mcp", "add", "nowhere", "--url", unused_url(), "--timeout", "5")
    add_stdio(capsys, "resting", "ok", "--disabled")

    status, out, _ = hashiru(capsys, "mcp", "list", "--json")
    assert status == 0
    listed = {server["name"]: server for server in json.loads(out)}
    assert list(listed) == ["local", "remote", "broken", "nowhere", "resting"]
    local, remote = listed["local"], listed["remote"]
    assert (local["transport"], local["ok"], local["error"]) == ("stdio", True, None)
    assert (local["approval"], local["env"], local["cwd"]) == ("once", ["TOKEN"], str(REPO))
    assert {"local__echo", "local__add"} <= {tool["name"] for tool in local["tools"]}
    # the header went with every request: the server answers 401 without it
    assert (remote["transport"], remote["ok"], remote["approval"]) == ("http", True, "never")
    assert remote["headers"] == ["Authorization"] and remote["url"] == token_server
    assert "remote__add" in {tool["name"] for tool in remote["tools"]}
    assert not listed["broken"]["ok"] and NEVER_STARTS in listed["broken"]["error"]
    assert not listed["nowhere"]["ok"] and listed["nowhere"]["error"]
    assert listed["resting"]["enabled"] is False

    # for a person, at 80 columns: each server's state, and why one is down
    monkeypatch.setenv("COLUMNS", "80")
    status, out, _ = hashiru(capsys, "mcp", "list")
    assert status == 0
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80, out
    row = {name: next(i for i, line in enumerate(lines) if f" {name} " in line) for name in listed}
    assert "up" in lines[row["local"]] and "down" in lines[row["broken"]]
    assert "never-start" in " ".join(lines[row["broken"] : row["nowhere"]])  # why, wrapped
    assert "disabled" in lines[row["resting"]]
    assert "env: TOKEN" in out and "headers: Authorization" in out


def test_test_exits_0_listing_the_tools_or_1_saying_why(
    home: Path, capsys, token_server: str
) -> None:
    add_stdio(capsys, "local", "ok", "--env", f"TOKEN={ENV_SECRET}")
    add_stdio(capsys, "broken", "never-start")
    hashiru(capsys, "mcp", "add", "remote", "--url", token_server, "--header",
            f"Authorization: Bearer {HEADER_SECRET}")  # fmt: skip
    hashiru(capsys, "mcp", "add", "refused", "--url", token_server, "--header",
            f"Authorization: Bearer not-{HEADER_SECRET}")  # fmt: skip

    for name in ("local", "remote"):
        status, out, err = hashiru(capsys, "mcp", "test", name)
        assert status == 0, err
        assert f"{name} works" in out and " echo " in out and " add " in out
    status, _, err = hashiru(capsys, "mcp", "test", "broken")
    assert status == 1 and NEVER_STARTS in " ".join(err.split())
    status, _, err = hashiru(capsys, "mcp", "test", "refused")
    assert status == 1 and "'refused' does not work" in err and "401" in err


def test_serve_answers_an_mcp_client_over_stdio(tmp_path: Path) -> None:
    ceo = tmp_path / "ceo.json"
    ceo.write_text(json.dumps([{"text": "17 * 23 = 391"}]))
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hashiru", "mcp", "serve"],
        env={
            "HASHIRU_HOME": os.environ["HASHIRU_HOME"],
            "HASHIRU_CEO_MODEL": f"scripted:{ceo}",
            "HASHIRU_ENABLE_MEMORY": "false",
        },
        cwd=REPO,
    )

    async def session() -> tuple:
        async with stdio_client(server) as (read, write), ClientSession(read, write) as client:
            started = await client.initialize()
            tools = await client.list_tools()
            answer = await client.call_tool("run_task", {"task": "What is 17 * 23?"})
            return started, tools, answer

    started, tools, answer = asyncio.run(asyncio.wait_for(session(), timeout=120))
    assert started.server_info.name == "hashiru"
    assert "run_task" in {tool.name for tool in tools.tools}
    assert not answer.is_error
    assert answer.structured_content["answer"] == "17 * 23 = 391"
