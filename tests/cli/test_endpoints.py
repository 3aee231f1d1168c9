"""`hashiru doctor` checks each named endpoint (`[endpoints.NAME]` in hashiru.toml) against a fake
Chat Completions server on 127.0.0.1: reachable with its models, a key whose variable is unset,
one that does not answer, and the memory budget each draws on."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashiru.cli import main
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def cluster() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="cluster-secret", models={"big": 32_768, "small": 8_192}) as server:
        yield server


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a server that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_toml(text: str) -> None:
    home = Path(os.environ["HASHIRU_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "hashiru.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def endpoints(cluster: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """cluster: up, its key set, 80 GiB of its own; router: its key unset; lab: down."""
    monkeypatch.setenv("CLUSTER_KEY", "cluster-secret")
    monkeypatch.delenv("ROUTER_KEY", raising=False)
    urls = {
        "cluster": f"{cluster.url}/v1",
        "router": "http://127.0.0.1:9/v1",
        "lab": f"{closed_port_url()}/v1",
    }
    write_toml(
        f"""
retries = 0
[endpoints.cluster]
base_url = "{urls["cluster"]}"
api_key_env = "CLUSTER_KEY"
local = true
memory_gib = 80

[endpoints.router]
base_url = "{urls["router"]}"
api_key_env = "ROUTER_KEY"

[endpoints.lab]
base_url = "{urls["lab"]}"
local = true
"""
    )
    return urls


def doctor_lines(out: str, names: list[str]) -> dict[str, str]:
    """What doctor says of each of `names`: its line, and the reason indented under it."""
    lines, name = {}, ""
    for line in out.splitlines():
        words = line.split()
        if line.startswith("  ") and not line.startswith("   ") and words[0] in names:
            name = words[0]
            lines[name] = line
        elif line.startswith("    ") and name:
            lines[name] += "\n" + line.strip()
        else:
            name = ""
    return lines


def test_doctor_says_how_each_endpoint_is(endpoints: dict[str, str], capsys) -> None:
    assert main(["doctor"]) == 0
    lines = doctor_lines(capsys.readouterr().out, list(endpoints))
    assert lines["cluster"].split() == [
        "cluster",
        f"{endpoints['cluster']}:",
        "reachable,",
        "2",
        "models",
        "·",
        "local,",
        "80",
        "GiB",
        "budget",
        "of",
        "its",
        "own",
    ]
    assert lines["router"] == (
        f"  router {endpoints['router']}: key missing: set ROUTER_KEY · cloud (dollars)"
    )
    head, why = lines["lab"].split("\n")
    assert head == (
        f"  lab {endpoints['lab']}: not available · local, shares this machine's memory budget"
    )
    assert "cannot reach" in why


def test_doctor_json_adds_the_endpoints_and_keeps_the_backends(
    endpoints: dict[str, str], cluster: FakeOpenAI, capsys
) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"ceo_model", "backends", "sandbox_layers"} <= set(report)  # as before
    assert report["ollama_hosts"] == []  # no pool
    checks = {check["name"]: check for check in report["endpoints"]}
    assert checks["cluster"] == {
        "name": "cluster",
        "base_url": endpoints["cluster"],
        "local": True,
        "memory_gib": "80",
        "key_missing": None,
        "available": True,
        "models": 2,
        "reason": "",
    }
    assert checks["router"]["key_missing"] == "ROUTER_KEY" and not checks["router"]["available"]
    assert checks["router"]["local"] is False and checks["router"]["memory_gib"] is None
    assert not checks["lab"]["available"] and checks["lab"]["key_missing"] is None
    backends = {b["name"]: b for b in report["backends"]}
    assert [m["ref"] for m in backends["cluster"]["models"]] == ["cluster:big", "cluster:small"]
    # the key went to the endpoint that asked for it, and the unset one sent nothing
    assert {r.headers["authorization"] for r in cluster.requests} == {"Bearer cluster-secret"}
