"""The file tools stay inside the workspace and within their size limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hashiru.tools import Tool, ToolFailure
from hashiru.tools.files import MAX_LIST_ENTRIES, MAX_READ_BYTES, MAX_WRITE_BYTES, file_tools


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def tools(workspace: Path) -> dict[str, Tool]:
    return {t.name: t for t in file_tools(workspace)}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    return secret


async def test_write_read_list_round_trip(tools: dict[str, Tool], workspace: Path) -> None:
    assert not workspace.exists()
    written = await tools["write_file"].call({"path": "notes/day 1.txt", "text": "héllo\n"})
    assert written == {"path": "notes/day 1.txt", "bytes": 7}
    assert (workspace / "notes" / "day 1.txt").read_bytes() == "héllo\n".encode()
    assert await tools["read_file"].call({"path": "notes/day 1.txt"}) == "héllo\n"
    await tools["write_file"].call({"path": "b.txt", "text": "bb"})
    listing = await tools["list_files"].call({})
    assert listing == {
        "path": ".",
        "entries": [{"name": "b.txt", "type": "file", "size": 2}, {"name": "notes", "type": "dir"}],
        "total": 2,
        "truncated": False,
    }
    inner = await tools["list_files"].call({"path": "notes"})
    assert inner["path"] == "notes"
    assert inner["entries"] == [{"name": "day 1.txt", "type": "file", "size": 7}]


async def test_the_workspace_is_created_on_first_use(tools, workspace: Path) -> None:
    assert (await tools["list_files"].call({}))["entries"] == []
    assert workspace.is_dir()


async def test_write_replaces_atomically_and_keeps_the_mode(tools, workspace: Path) -> None:
    await tools["write_file"].call({"path": "a.txt", "text": "old"})
    (workspace / "a.txt").chmod(0o600)
    await tools["write_file"].call({"path": "a.txt", "text": "new"})
    assert (workspace / "a.txt").read_text() == "new"
    assert (workspace / "a.txt").stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(workspace)) == ["a.txt"], "no temporary file is left behind"


@pytest.mark.parametrize(
    "path", ["../secret.txt", "a/../../secret.txt", "a/b/../../../secret.txt", "/etc/passwd"]
)
async def test_paths_outside_the_workspace_are_refused(tools, outside: Path, path: str) -> None:
    for name, arguments in (
        ("read_file", {"path": path}),
        ("list_files", {"path": path}),
        ("write_file", {"path": path, "text": "pwned"}),
    ):
        with pytest.raises(ToolFailure, match="outside the workspace"):
            await tools[name].call(arguments)
    assert outside.read_text() == "top secret"


async def test_an_absolute_path_outside_is_refused(tools, outside: Path) -> None:
    with pytest.raises(ToolFailure, match="outside the workspace"):
        await tools["read_file"].call({"path": str(outside)})


async def test_an_absolute_path_inside_is_allowed(tools, workspace: Path) -> None:
    await tools["write_file"].call({"path": "in.txt", "text": "x"})
    assert await tools["read_file"].call({"path": str(workspace / "in.txt")}) == "x"


async def test_a_symlink_pointing_out_is_refused(tools, workspace: Path, outside: Path) -> None:
    workspace.mkdir()
    (workspace / "link.txt").symlink_to(outside)
    with pytest.raises(ToolFailure, match="outside the workspace"):
        await tools["read_file"].call({"path": "link.txt"})
    with pytest.raises(ToolFailure, match="outside the workspace"):
        await tools["write_file"].call({"path": "link.txt", "text": "pwned"})
    assert outside.read_text() == "top secret"
    listing = await tools["list_files"].call({})
    assert listing["entries"] == [{"name": "link.txt", "type": "link"}]


async def test_a_symlinked_folder_pointing_out_is_refused(
    tools, workspace: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.txt").write_text("private")
    workspace.mkdir()
    (workspace / "shared").symlink_to(elsewhere, target_is_directory=True)
    for name, arguments in (
        ("read_file", {"path": "shared/private.txt"}),
        ("list_files", {"path": "shared"}),
        ("write_file", {"path": "shared/new.txt", "text": "pwned"}),
        ("write_file", {"path": "shared/deeper/new.txt", "text": "pwned"}),
    ):
        with pytest.raises(ToolFailure, match="outside the workspace"):
            await tools[name].call(arguments)
    assert sorted(os.listdir(elsewhere)) == ["private.txt"]


async def test_a_symlink_within_the_workspace_works(tools, workspace: Path) -> None:
    await tools["write_file"].call({"path": "real/a.txt", "text": "inside"})
    (workspace / "alias").symlink_to(workspace / "real", target_is_directory=True)
    assert await tools["read_file"].call({"path": "alias/a.txt"}) == "inside"
    written = await tools["write_file"].call({"path": "alias/b.txt", "text": "via link"})
    assert written["path"] == "real/b.txt"
    assert (workspace / "real" / "b.txt").read_text() == "via link"


async def test_read_refuses_a_big_file_and_says_how_big(tools, workspace: Path) -> None:
    workspace.mkdir()
    (workspace / "big.txt").write_bytes(b"a" * (MAX_READ_BYTES + 1))
    with pytest.raises(ToolFailure, match=r"big.txt is 1,000,001 bytes; read_file reads at most"):
        await tools["read_file"].call({"path": "big.txt"})
    (workspace / "fits.txt").write_bytes(b"a" * MAX_READ_BYTES)
    assert len(await tools["read_file"].call({"path": "fits.txt"})) == MAX_READ_BYTES


async def test_write_refuses_too_much_text(tools, workspace: Path) -> None:
    with pytest.raises(ToolFailure, match=r"1,000,001 bytes; write_file writes at most"):
        await tools["write_file"].call({"path": "big.txt", "text": "a" * (MAX_WRITE_BYTES + 1)})
    assert not (workspace / "big.txt").exists()


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"caf\xe9", b"a\x00b"])
async def test_read_refuses_binary_files(tools, workspace: Path, data: bytes) -> None:
    workspace.mkdir()
    (workspace / "blob").write_bytes(data)
    with pytest.raises(ToolFailure, match="blob is binary"):
        await tools["read_file"].call({"path": "blob"})


async def test_list_is_sorted_and_capped(tools, workspace: Path) -> None:
    workspace.mkdir()
    for number in reversed(range(MAX_LIST_ENTRIES + 1)):
        (workspace / f"f{number:04}").touch()
    listing = await tools["list_files"].call({"path": "."})
    names = [entry["name"] for entry in listing["entries"]]
    assert len(names) == MAX_LIST_ENTRIES and names == sorted(names) and names[0] == "f0000"
    assert listing["truncated"] is True and listing["total"] == MAX_LIST_ENTRIES + 1
    assert "first 500 of 501" in listing["note"]


async def test_clear_failures_for_wrong_kinds_of_path(tools, workspace: Path) -> None:
    await tools["write_file"].call({"path": "dir/a.txt", "text": "a"})
    cases = [
        ("read_file", {"path": "missing.txt"}, "does not exist"),
        ("read_file", {"path": "dir"}, "is a folder"),
        ("list_files", {"path": "dir/a.txt"}, "is not a folder"),
        ("write_file", {"path": "dir", "text": "x"}, "is a folder"),
        ("write_file", {"path": "dir/a.txt/b.txt", "text": "x"}, "cannot write"),
        ("read_file", {"path": "bad\x00name"}, "invalid path"),
    ]
    for name, arguments, message in cases:
        with pytest.raises(ToolFailure, match=message):
            await tools[name].call(arguments)


def test_descriptions_are_one_short_line(tools) -> None:
    assert set(tools) == {"read_file", "list_files", "write_file"}
    for each in tools.values():
        assert each.description and "\n" not in each.description and len(each.description) < 90
    assert "path" not in tools["list_files"].parameters.get("required", [])
    assert tools["write_file"].parameters["required"] == ["path", "text"]
