"""The Team tab's scorecard in a real browser: each model's record per kind of task, filtered
by kind, and kept fresh as asks are filed and rated (by a turn in this page, or elsewhere)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from hashiru.providers.scripted import Script
from tests.economy.conftest import file_asks
from tests.ui.conftest import call
from tests.ui.test_browser import (
    WAIT_MS,
    cell,
    choose,
    open_app,
    rows,
    send,
    shoot,
    wait_for_answer,
)

SAGE = "scripted:sage"
QUICK = "scripted:quick"
DONE = "The poem is checked and rated."


def rated_poet() -> dict[str, Script]:
    """A CEO that hires `poet` for writing, asks it, rates the answer good, then answers."""
    hire = call(
        "hire_agent",
        name="poet",
        model="scripted:poet",
        system_prompt="You write short poems.",
        description="A poet.",
    )
    ceo = Script(
        [
            {"tool_calls": [hire]},
            {"tool_calls": [call("ask_agent", name="poet", prompt="A haiku.", kind="writing")]},
            {"tool_calls": [call("rate_agent", name="poet", verdict="good", note="scans")]},
            {"text": DONE},
        ]
    )
    return {"ceo": ceo, "poet": Script([{"text": "Waves fold into light."}], repeat=True)}


def scorecard(page: Page) -> list[list[str]]:
    return rows(page, "#scorecard")


def test_the_scorecard_shows_filters_and_follows_the_asks(serve, browser, artifacts) -> None:
    served = serve(rated_poet(), enable_memory=False)
    outcomes = served.hashiru.outcomes
    for verdict in ("good", "good", "good", "bad"):
        file_asks(outcomes, SAGE, "math", [verdict], usd="0.002", seconds=1.5, source="user")
    for verdict in ("good", "failed"):
        file_asks(outcomes, QUICK, "math", [verdict], seconds=1.5, source="user")
    file_asks(outcomes, SAGE, "writing", [""], seconds=1.5)

    page = open_app(browser, served)
    expect(page.locator("#score-kind input")).to_have_value("all")
    expect(page.locator("#scorecard-note")).to_contain_text("rate_agent")
    expect(cell(page, "#scorecard", SAGE).first).to_be_visible(timeout=WAIT_MS)
    assert scorecard(page) == [  # by kind, best first within it
        [SAGE, "math", "75% (30–95%)", "0.0020", "1.5", "4", "3", "1", "0"],  # noqa: RUF001
        [QUICK, "math", "50% (9–91%)", "0.0000", "1.5", "2", "1", "0", "1"],  # noqa: RUF001
        [SAGE, "writing", "—", "0.0000", "1.5", "1", "0", "0", "0"],
    ]
    page.locator("#scorecard").scroll_into_view_if_needed()
    shoot(page, artifacts, "scorecard")

    choose(page, page.locator("#score-kind input"), "writing")
    expect(cell(page, "#scorecard", QUICK)).to_have_count(0, timeout=WAIT_MS)
    assert [row[:3] for row in scorecard(page)] == [[SAGE, "writing", "—"]]

    # a turn hires, asks and rates: the scorecard follows, on the kind still picked
    send(page, "Write me a haiku, and check it.")
    wait_for_answer(page, DONE)
    expect(cell(page, "#scorecard", "scripted:poet")).to_be_visible(timeout=WAIT_MS)
    poet = scorecard(page)[0]
    assert poet[:3] == ["scripted:poet", "writing", "100% (21–100%)"]  # noqa: RUF001
    assert poet[5:] == ["1", "1", "0", "0"]  # asks, good, bad, failed
    assert [row[1] for row in scorecard(page)] == ["writing", "writing"]

    # asks filed elsewhere (another session, `python -m bench run --learn`) reach the page on
    # its periodic refresh
    file_asks(outcomes, QUICK, "writing", ["bad"], seconds=1.5, source="user")
    expect(cell(page, "#scorecard", QUICK)).to_be_visible(timeout=WAIT_MS)
    assert [row[0] for row in scorecard(page)] == ["scripted:poet", QUICK, SAGE]
    shoot(page, artifacts, "scorecard-writing")
