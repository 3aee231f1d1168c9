"""The `hashiru` command on scripted models: progress, --json, agents, fire, clean errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hashiru.cli import main

HIRE = {
    "name": "hire_agent",
    "arguments": {
        "name": "calc",
        "model": "scripted:{calc}",
        "system_prompt": "Multiply.",
        "description": "arithmetic",
    },
}


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    calc = tmp_path / "calc.json"
    calc.write_text(json.dumps([{"text": "391"}]))
    hire = json.loads(json.dumps(HIRE).replace("{calc}", str(calc)))
    ceo = tmp_path / "ceo.json"
    ceo.write_text(
        json.dumps(
            [
                {"text": "Let me ask someone.", "tool_calls": [hire]},
                {
                    "tool_calls": [
                        {"name": "ask_agent", "arguments": {"name": "calc", "prompt": "17*23"}}
                    ]
                },
                {"text": "17 * 23 = 391"},
            ]
        )
    )
    return {"ceo": ceo, "calc": calc}


def test_run_streams_progress_and_answer(scripts, capsys) -> None:
    assert main(["run", "What is 17 * 23?", "--ceo", f"scripted:{scripts['ceo']}"]) == 0
    out = capsys.readouterr().out
    assert "Let me ask someone." in out
    assert "→ hire_agent" in out and "✓ ask_agent" in out
    assert "+ hired calc" in out
    assert "17 * 23 = 391" in out
    assert "3 steps · 2 tool calls" in out


def test_run_json_then_agents_and_fire(scripts, capsys) -> None:
    assert main(["run", "17*23?", "--json", "--ceo", f"scripted:{scripts['ceo']}"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answer"] == "17 * 23 = 391"
    assert result["ceo_model"] == f"scripted:{scripts['ceo']}"
    assert result["steps"] == 3
    assert [c["name"] for c in result["tool_calls"]] == ["hire_agent", "ask_agent"]
    assert all(c["ok"] and c["seconds"] >= 0 for c in result["tool_calls"])
    assert result["agents"][0]["name"] == "calc"
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    assert len(result["run_id"]) == 12

    assert main(["agents", "--json"]) == 0
    agents = json.loads(capsys.readouterr().out)
    assert [(a["name"], a["calls"]) for a in agents] == [("calc", 1)]

    assert main(["fire", "calc"]) == 0
    assert "Fired calc" in capsys.readouterr().out
    assert main(["agents"]) == 0
    assert "No employees hired." in capsys.readouterr().out


def test_errors_are_one_clear_line(tmp_path: Path, capsys, monkeypatch) -> None:
    assert main(["fire", "ghost"]) == 1
    assert "No employee named 'ghost'" in capsys.readouterr().err

    assert main(["run", "x", "--ceo", f"scripted:{tmp_path / 'missing.json'}"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "not found" in err and "Traceback" not in err

    assert main(["run", "x", "--ceo", "gpt-5"]) == 1
    assert "not of the form provider:model" in capsys.readouterr().err

    monkeypatch.setenv("HASHIRU_MAX_STEPS", "lots")
    assert main(["agents"]) == 1
    assert "HASHIRU_MAX_STEPS" in capsys.readouterr().err


def test_doctor_reports_each_backend(capsys) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    backends = {b["name"]: b for b in report["backends"]}
    assert set(backends) == {"ollama", "gemini", "anthropic", "openai", "embedded", "scripted"}
    assert not backends["gemini"]["available"] and "GEMINI_API_KEY" in backends["gemini"]["reason"]
    assert not backends["openai"]["available"] and "OPENAI_API_KEY" in backends["openai"]["reason"]
    assert not backends["ollama"]["available"] and "ollama serve" in backends["ollama"]["reason"]


def test_a_damaged_roster_is_reported_and_left_alone(tmp_path: Path, capsys, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "employees.sqlite").write_text("not a database, " * 100)
    monkeypatch.setenv("HASHIRU_HOME", str(home))
    assert main(["agents"]) == 1
    err = capsys.readouterr().err
    assert "employees.sqlite is damaged" in err and "Traceback" not in err
    assert (home / "employees.sqlite").read_text() == "not a database, " * 100


def test_budget_set_show_and_ledger_csv(scripts, capsys) -> None:
    assert main(["budget", "set", "--usd", "2.5", "--memory-gib", "4"]) == 0
    capsys.readouterr()
    assert main(["budget", "--json"]) == 0
    budget = json.loads(capsys.readouterr().out)
    assert budget["expense_usd"]["total"] == "2.5" and budget["resource_gib"]["total"] == "4.00"

    assert (
        main(
            ["run", "17*23?", "--json", "--budget-usd", "1", "--ceo", f"scripted:{scripts['ceo']}"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["cost"] == {
        "expense_usd": "0",
        "resource_gib_used": "0.00",
        "resource_gib_total": "4.00",
    }

    assert main(["ledger", "--csv", "--run", result["run_id"]]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    kinds = [row["kind"] for row in rows]
    assert kinds.count("reserve") == kinds.count("settle") == 4  # 3 CEO steps and 1 ask
    assert kinds.count("hire") == 1
    assert {row["run_id"] for row in rows} == {result["run_id"]}
    settled = [row for row in rows if row["kind"] == "settle"]
    assert all(row["usd"] == "0" and row["price_source"] == "local compute" for row in settled)

    assert main(["budget"]) == 0
    out = capsys.readouterr().out
    assert "expense (USD)" in out and "resource (GiB)" in out and "2.50" in out

    assert main(["budget", "--usd", "3"]) == 1
    assert "hashiru budget set" in capsys.readouterr().err


def test_tools_made_by_the_ceo_are_managed_from_the_cli(tmp_path: Path, capsys, monkeypatch):
    code = "def run(text):\n    return text.upper()\n"
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    create = {
        "name": "create_tool",
        "arguments": {
            "name": "shout",
            "description": "Upper-case text.",
            "parameters": schema,
            "code": code,
        },
    }
    ceo = tmp_path / "ceo.json"
    ceo.write_text(json.dumps([{"tool_calls": [create]}, {"text": "made it"}]))
    monkeypatch.setenv("HASHIRU_TOOL_APPROVAL", "true")

    assert main(["run", "x", "--ceo", f"scripted:{ceo}"]) == 0  # stdin is no terminal: refused
    capsys.readouterr()
    assert main(["tools"]) == 0
    assert "awaiting approval" in capsys.readouterr().out

    assert main(["run", "x", "--yes", "--json", "--ceo", f"scripted:{ceo}"]) == 0
    capsys.readouterr()
    assert main(["tools", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["approved"], len(listed["versions"])) == ("shout", True, 2)

    assert main(["tools", "show", "shout"]) == 0
    shown = capsys.readouterr().out
    assert "shout" in shown and "text.upper()" in shown

    assert main(["tools", "disable", "shout"]) == 0
    assert capsys.readouterr().out == "shout is disabled.\n"
    assert main(["tools", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["enabled"] is False
    assert main(["tools", "delete", "shout"]) == 0
    capsys.readouterr()
    assert main(["tools"]) == 0
    assert "No generated tools yet." in capsys.readouterr().out
    assert main(["tools", "show", "shout"]) == 1
    assert "no generated tool named 'shout'" in capsys.readouterr().err


def test_memory_commands(tmp_path: Path, capsys) -> None:
    assert main(["memory", "add", "The user prefers metric units.", "--kind", "preference"]) == 0
    assert main(["memory", "add", "Deploys happen on Fridays.", "--json"]) == 0
    capsys.readouterr()
    assert main(["memory", "search", "which units should I use?", "--json", "-k", "1"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert (found["text"], found["kind"]) == ("The user prefers metric units.", "preference")

    backup = tmp_path / "memories.jsonl"
    assert main(["memory", "export", str(backup)]) == 0
    assert len(backup.read_text().splitlines()) == 2
    assert main(["memory", "delete", found["id"]]) == 0
    assert main(["memory", "list", "--json"]) == 0
    assert "metric" not in capsys.readouterr().out.split("Deleted")[-1]
    assert main(["memory", "import", str(backup)]) == 0
    capsys.readouterr()
    assert main(["memory"]) == 0
    out = capsys.readouterr().out
    assert "metric units" in out and "Fridays" in out

    assert main(["memory", "add", "password: hunter2hunter2"]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "error:" in err


def test_budget_table_shows_a_small_total_unrounded(capsys) -> None:
    assert main(["budget", "set", "--usd", "0.005"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "expense (USD)" in line)
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[1:6] == ["expense (USD)", "0.0000", "0.0000", "0.0050", "0.005"]
