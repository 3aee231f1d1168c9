"""Whole `hashiru run` processes: killed mid-run, and two at once on one HASHIRU_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from hashiru.economy.ledger import DEAD_HOLDER_NOTE, Ledger
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import call, hire
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import FakeTurn

HASHIRU = str(Path(sys.executable).with_name("hashiru"))


def script(path: Path, turns: list) -> str:
    path.write_text(json.dumps(turns))
    return f"scripted:{path}"


def ask(name: str) -> dict:
    return call("ask_agent", name=name, prompt="go")


def test_kill_9_mid_run_loses_nothing_committed(tmp_path: Path) -> None:
    slow = script(tmp_path / "slow.json", [{"text": "late", "delay": 60}])
    ceo = script(
        tmp_path / "ceo.json", [{"tool_calls": [hire("slow", slow)]}, {"tool_calls": [ask("slow")]}]
    )
    env = os.environ | {"HASHIRU_LOCAL_USD_PER_HOUR": "3.6"}  # so a local call holds money
    run = subprocess.Popen(
        [HASHIRU, "run", "x", "--ceo", ceo],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings = Settings.load(environ=env)
    ledger_path = settings.home / "ledger.sqlite"
    deadline = time.monotonic() + 60
    while not (ledger_path.exists() and _open_hold(Ledger(ledger_path, Decimal(5), 2**30))):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    before = Ledger(ledger_path, Decimal(5), 2**30).entries()
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    hashiru = Hashiru.from_settings(settings)
    assert hashiru.company.roster.get("slow").calls == 0, "hired before the kill, still hired"
    assert set(hashiru.ledger.active_hires()) == {"slow"}
    state = hashiru.ledger.state()
    assert state.usd_reserved == 0
    after = hashiru.ledger.entries()
    assert after[: len(before)] == before, "nothing committed is lost"
    released = [e for e in after if e.kind == "release"]
    assert [e.note for e in released] == [DEAD_HOLDER_NOTE]


def _open_hold(ledger: Ledger) -> bool:
    entries = ledger.entries()
    closed = {e.reservation for e in entries}
    return any(e.kind == "reserve" and e.agent == "slow" and e.id not in closed for e in entries)


def test_two_processes_on_one_home_never_overspend(tmp_path: Path) -> None:
    model = "gemini:gemini-2.5-flash"
    with FakeGemini() as fake:
        fake.plan(
            "gemini-2.5-flash",
            *[FakeTurn(text="ok", input_tokens=100, output_tokens=100, delay=1.0)] * 50,
        )
        env = os.environ | {
            "GEMINI_API_KEY": "k",
            "GOOGLE_GEMINI_BASE_URL": fake.url,
            "HASHIRU_HIRE_FEE_USD": "0",
            "HASHIRU_MAX_TOKENS": "100",
            "HASHIRU_RETRIES": "0",
        }
        hashiru = Hashiru.from_settings(Settings.load(environ=env))
        hold = hashiru.company.prices.worst_case("gemini", "gemini-2.5-flash", 1, 100)
        hashiru.ledger.set_budget(usd=hold * 30)  # holds for fewer than the 50 asks
        runs = []
        for team in "ab":
            names = [f"{team}{i:02}" for i in range(25)]
            ceo = script(
                tmp_path / f"{team}.json",
                [
                    {"tool_calls": [hire(n, model) for n in names]},
                    {"tool_calls": [ask(n) for n in names]},
                    {"text": "done"},
                ],
            )
            runs.append(
                subprocess.Popen(
                    [HASHIRU, "run", "x", "--ceo", ceo], env=env, stdout=subprocess.PIPE, text=True
                )
            )
        outputs = [run.communicate(timeout=120)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0]
    failed = sum(out.count("✗ ask_agent") for out in outputs)
    explained = sum(out.count("Budget exceeded") for out in outputs)
    assert 0 < failed == explained
    state = hashiru.ledger.state()
    assert state.usd_spent <= state.usd_total and state.usd_reserved == 0
    settled = [e for e in hashiru.ledger.entries() if e.kind == "settle" and e.agent != "ceo"]
    assert len(settled) == 50 - failed
