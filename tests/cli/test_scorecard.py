"""`hashiru scorecard`: each model's record per kind of task, read from the workspace's real
outcome store, as a table readable at 80 columns or as JSON; a kind filters it, a bad kind is
one clear line, and an empty scorecard says how it fills."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from hashiru import Outcomes, Usage
from hashiru.cli import main
from tests.cli.test_bad_input import assert_one_clear_line, outcome
from tests.cli.test_startup import heavy, imported
from tests.economy.conftest import file_asks
from tests.test_cli import scripts  # noqa: F401 - the fixture: a CEO that hires and asks calc

LOCAL = "ollama:qwen3:8b"
CLOUD = "anthropic:claude-opus-4-1"
WRITER = "gemini:gemini-2.5-flash-lite-preview-06-17"


@pytest.fixture
def outcomes() -> Outcomes:
    """The store `hashiru` reads in this test's HASHIRU_HOME."""
    home = Path(os.environ["HASHIRU_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return Outcomes(home / "outcomes.sqlite")


@pytest.fixture
def card(outcomes: Outcomes) -> Outcomes:
    """Math: the local model 8 good of 11 judged, the cloud one 3 of 3; writing: 3 unjudged."""
    file_asks(outcomes, LOCAL, "math", ["good"] * 8 + ["bad", "bad", "failed"], "0", 2.04)
    file_asks(outcomes, CLOUD, "math", ["good"] * 3, "0.01", 4.0)
    file_asks(outcomes, WRITER, "writing", ["", ""], "0.0003", 1.0)
    outcomes.record_ask(  # a second, dearer writing ask: the mean is their average
        run_id="r1",
        agent="e",
        model=WRITER,
        kind="writing",
        usage=Usage(),
        usd=Decimal("0.0006"),
        seconds=1.3,
    )
    return outcomes


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["scorecard", *argv]) == 0
    return capsys.readouterr().out


def figures(out: str, model: str) -> list[str]:
    """The figures on `model`'s row (at 80 columns a long name is folded over lines)."""
    [row] = [
        cells
        for cells in map(str.split, out.splitlines())
        if len(cells) > 1 and model.startswith(cells[0])
    ]
    return row[1:]


def first_column(out: str) -> str:
    """The table's first column read down, without spaces: the kinds and the models' names."""
    return "".join(line.split()[0] for line in out.splitlines()[2:] if line.strip())


def test_the_table_shows_each_model_per_kind_best_first(card, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = printed(capsys)
    assert max(map(len, out.splitlines())) <= 80, out
    header = out.splitlines()[0].split()
    assert header == ["model", "success", "$/ask", "s/ask", "asks", "good", "bad", "failed"]
    # the success rate, then its 95% interval (an en dash between its ends)
    assert figures(out, CLOUD) == ["100%", "(44–100%)", "0.0100", "4.0", "3", "3", "0", "0"]  # noqa: RUF001
    assert figures(out, LOCAL) == ["73%", "(43–90%)", "0.0000", "2.0", "11", "8", "2", "1"]  # noqa: RUF001
    # the mean of $0.0003 twice and $0.0006; nothing judged, so no success rate
    assert figures(out, WRITER) == ["—", "0.0004", "1.1", "3", "0", "0", "0"]
    # down the first column: each kind, then its models best first; a long name folded, not cut
    first = first_column(out)
    order = [first.index(x) for x in ("math", CLOUD, LOCAL, "writing", WRITER)]
    assert order == sorted(order), out
    assert "success: good answers of those judged" in out


def test_json_is_each_lines_summary(card, capsys) -> None:
    lines = json.loads(printed(capsys, "--json"))
    assert [(x["model"], x["kind"]) for x in lines] == [
        (CLOUD, "math"),
        (LOCAL, "math"),
        (WRITER, "writing"),
    ]
    local = lines[1]
    assert (local["asks"], local["good"], local["bad"], local["failed"]) == (11, 8, 2, 1)
    assert local["success_rate"] == 0.727 and local["interval_95"] == [0.434, 0.903]
    assert (local["mean_usd"], local["mean_seconds"]) == ("0", 2.04)
    writer = lines[2]
    assert writer["mean_usd"] == "0.0004" and writer["unjudged"] == 3
    assert writer["success_rate"] is None and writer["interval_95"] is None


def test_a_kind_shows_only_that_kind(card, capsys) -> None:
    out = printed(capsys, "--kind", "writing")
    assert first_column(out).startswith(f"writing{WRITER}success:"), out
    lines = json.loads(printed(capsys, "--kind", "math", "--json"))
    assert [x["model"] for x in lines] == [CLOUD, LOCAL]
    assert printed(capsys, "--kind", "code").startswith("No code asks yet.")


def test_a_bad_kind_is_one_clear_line(card, capsys) -> None:
    status, err = outcome(["scorecard", "--kind", "poetry"], capsys)
    assert status == 1
    says = "Unknown task kind 'poetry'; use one of: math, code, writing, reasoning, knowledge"
    assert_one_clear_line(status, err, says)
    status, err = outcome(["scorecard", "--kind", " "], capsys)
    assert status == 2
    assert_one_clear_line(status, err, "argument --kind: is empty")


def test_an_empty_scorecard_says_how_it_fills(capsys) -> None:
    out = " ".join(printed(capsys).split())
    assert out.startswith("No asks yet. Every ask_agent call is filed here;")
    assert "rate_agent" in out and "python -m bench run ... --learn" in out
    assert json.loads(printed(capsys, "--json")) == []


def test_a_run_files_its_asks_and_the_ceos_rating(scripts, capsys) -> None:  # noqa: F811
    ceo = json.loads(scripts["ceo"].read_text())
    ceo[1]["tool_calls"][0]["arguments"]["kind"] = "math"
    rate = {"name": "rate_agent", "arguments": {"name": "calc", "verdict": "good"}}
    ceo.insert(2, {"tool_calls": [rate]})
    scripts["ceo"].write_text(json.dumps(ceo))
    assert main(["run", "17*23?", "--json", "--ceo", f"scripted:{scripts['ceo']}"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == "17 * 23 = 391"

    [line] = json.loads(printed(capsys, "--json"))
    assert (line["model"], line["kind"]) == (f"scripted:{scripts['calc']}", "math")
    assert (line["asks"], line["good"], line["success_rate"]) == (1, 1, 1.0)


def test_the_scorecard_loads_no_heavy_module(card, tmp_path: Path) -> None:
    status, modules = imported(tmp_path, "scorecard")
    assert status == 0 and heavy(modules) == []
    assert "hashiru.economy.outcomes" in modules
