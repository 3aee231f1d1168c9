"""`hashiru doctor`, `agents` and `budget` over a pool of Ollama hosts (`ollama_hosts` in
hashiru.toml): fake Ollama servers on 127.0.0.1 with their own memory budgets, and one host that
is down (a closed port)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from hashiru.cli import main
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.cli.test_endpoints import closed_port_url, doctor_lines, write_toml
from tests.fakes.ollama import FakeOllama

GIB = 2**30


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOllama, FakeOllama, str]]:
    """a: x and y, 4 GiB of its own; b: x, 8 GiB; c: down, on this machine's budget."""
    monkeypatch.setenv("COLUMNS", "200")  # a URL in a table cell is never folded
    with FakeOllama() as a, FakeOllama() as b:
        a.models = {"x:latest": 2 * GIB, "y:latest": GIB}
        b.models = {"x:latest": 2 * GIB}
        c = closed_port_url()
        write_toml(
            f"""
retries = 0
memory_gib = 16
ollama_hosts = [
    {{ url = "{a.url}", memory_gib = 4 }},
    {{ url = "{b.url}", memory_gib = 8 }},
    "{c}",
]
"""
        )
        yield a, b, c


def hire(*hires: tuple[str, str]) -> None:
    """Hire (name, model) pairs in the workspace the CLI opens, as a run would."""

    async def go() -> None:
        poet = ScriptedProvider({"poet": Script([{"text": "waves"}])})
        hashiru = Hashiru.from_settings(Settings.load(), [poet])
        try:
            for name, model in hires:
                await hashiru.company.hire(hashiru.meter("run"), name, model, "s", "d")
        finally:
            await hashiru.aclose()

    asyncio.run(go())


def table_rows(out: str) -> list[list[str]]:
    """The cells of each row of the tables printed, the header's too."""
    lines = [line.replace("┃", "│") for line in out.splitlines()]
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]


def test_doctor_says_which_hosts_are_up_with_their_models_and_budget(hosts, capsys) -> None:
    a, b, c = hosts
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Endpoints:" not in out  # none configured: no section
    lines = doctor_lines(out, [a.url + ":", b.url + ":", c + ":"])
    assert lines[a.url + ":"] == f"  {a.url}: up, 2 models · 4 GiB budget of its own"
    assert lines[b.url + ":"] == f"  {b.url}: up, 1 model · 8 GiB budget of its own"
    head, why = lines[c + ":"].split("\n")
    assert head == f"  {c}: down · shares this machine's memory budget"
    assert f"cannot reach Ollama at {c}" in why

    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    checks = {check["url"]: check for check in report["ollama_hosts"]}
    assert checks[a.url] == {"url": a.url, "up": True, "models": 2, "memory_gib": "4", "reason": ""}
    assert checks[c]["up"] is False and checks[c]["memory_gib"] is None and checks[c]["reason"]
    [ollama] = [backend for backend in report["backends"] if backend["name"] == "ollama"]
    assert ollama["available"], "the pool serves what its hosts that answer have"


def test_agents_name_each_employees_host(hosts, capsys) -> None:
    a, b, _ = hosts
    hire(("x1", "ollama:x"), ("y1", "ollama:y"), ("x2", "ollama:x"))

    assert main(["agents", "--json"]) == 0
    hosted = {e["name"]: e["host"] for e in json.loads(capsys.readouterr().out)}
    assert hosted == {"x1": b.url, "y1": a.url, "x2": b.url}  # x2 shares x1's copy of x

    assert main(["agents"]) == 0
    header, *employees = table_rows(capsys.readouterr().out)
    assert header[:4] == ["name", "model", "where", "host"]
    assert {row[0]: row[3] for row in employees} == hosted


def test_agents_with_no_host_to_show_have_no_host_column(capsys) -> None:
    write_toml("memory_gib = 4\n")
    hire(("poet", "scripted:poet"))
    assert main(["agents"]) == 0
    out = capsys.readouterr().out
    assert "poet" in out and "host" not in out


def test_budget_shows_the_memory_of_each_host(hosts, capsys) -> None:
    a, b, _ = hosts
    hire(("x1", "ollama:x"), ("y1", "ollama:y"))

    assert main(["budget", "--json"]) == 0
    by_host = json.loads(capsys.readouterr().out)["resource_gib_by_host"]
    assert by_host[b.url] == {
        "total": "8.00",
        "used": "2.00",
        "free": "6.00",
        "models": {"ollama:x": "2.00"},
    }

    assert main(["budget"]) == 0
    out = capsys.readouterr().out
    rows = {cells[0]: cells for cells in table_rows(out)}
    assert rows["memory (GiB)"] == ["memory (GiB)", "used", "free", "total", "", "models loaded"]
    assert rows[a.url][:4] == [a.url, "1.00", "3.00", "4.00"]
    assert rows[a.url][5] == "ollama:y (1.00)"
    assert rows[b.url][:4] == [b.url, "2.00", "6.00", "8.00"]
    assert rows[b.url][5] == "ollama:x (2.00)"
    assert rows["this machine"][1:4] == ["0.00", "16.00", "16.00"]


def test_budget_with_one_memory_budget_shows_no_hosts(capsys) -> None:
    write_toml("memory_gib = 4\n")
    assert main(["budget"]) == 0
    assert "memory (GiB)" not in capsys.readouterr().out
