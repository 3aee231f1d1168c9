"""The Trace panel: a turn's spans as a waterfall (who, how long, how much) beside the chat.

Real traced turns (a scripted CEO, a scripted employee and one on a fake OpenAI API on
127.0.0.1) become rows, the rows become bars, and the app's own handlers show the latest
turn's, or say why there is none."""

from __future__ import annotations

import asyncio
import html
import itertools
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import Any

import gradio as gr
import pytest
from playwright.sync_api import expect

from hashiru import display, ui
from hashiru.cli.execute import traced
from hashiru.cli.parser import build_parser
from hashiru.providers.scripted import Script
from hashiru.runtime import Hashiru
from hashiru.ui import panels
from hashiru.ui.session import Session, Sessions
from hashiru.ui.turn import run_turn
from tests.agents.conftest import call, hire
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeTurn
from tests.ui.test_browser import FINAL, PAID, open_app, poet_turn, send, wait_for_answer

KEY = "sk-test"
CLOUD = "openai:gpt-4.1-mini"
POET_SECONDS = 0.2


def scripts() -> dict[str, Script]:
    """A turn that hires a poet and asks it (it takes POET_SECONDS), then hires an employee on
    the fake OpenAI API and asks it, then answers."""
    ceo = [
        {"tool_calls": [hire("poet")]},
        {"tool_calls": [call("ask_agent", name="poet", prompt="a haiku")]},
        {"tool_calls": [hire("cloud", CLOUD)]},
        {
            "tool_calls": [call("ask_agent", name="cloud", prompt="What is 3+3?")],
            "usage": {"input_tokens": 300, "output_tokens": 40},
        },
        {"text": "waves, and 6", "usage": {"input_tokens": 500, "output_tokens": 5}},
    ]
    return {"ceo": Script(ceo), "poet": Script([{"text": "waves", "delay": POET_SECONDS}])}


TREE = [
    (0, "invoke_agent ceo"),
    (1, "step 1"),
    (2, "chat ceo"),
    (2, "execute_tool hire_agent"),
    (1, "step 2"),
    (2, "chat ceo"),
    (2, "execute_tool ask_agent"),
    (3, "chat poet"),
    (1, "step 3"),
    (2, "chat ceo"),
    (2, "execute_tool hire_agent"),
    (1, "step 4"),
    (2, "chat ceo"),
    (2, "execute_tool ask_agent"),
    (3, "chat gpt-4.1-mini · cloud"),
    (1, "step 5"),
    (2, "chat ceo"),
]
"""A turn's tree as the panel lists it: each span under its parent, one deeper."""
ROW = re.compile(
    r'<div class="row" data-depth="(?P<depth>\d+)" data-kind="[^"]+"(?P<failed> data-failed)?>'
    r'<span class="who" style="padding-left:(?P<indent>[\d.]+)em" title="[^"]*">(?P<who>[^<]*)'
    r'</span><span class="track"><span class="bar" style="left:(?P<left>[\d.]+)%;'
    r'width:(?P<width>[\d.]+)%;background:(?P<colour>[^"]+)"></span></span>'
    r'<span class="num">(?P<took>[^<]*)</span><span class="num">(?P<tokens>[^<]*)</span>'
    r'<span class="num">(?P<usd>[^<]*)</span></div>'
)


@pytest.fixture
def cloud() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as fake:
        fake.plan("gpt-4.1-mini", FakeTurn(text="6", input_tokens=1000, output_tokens=200))
        yield fake


def company(
    make_hashiru, cloud: FakeOpenAI, ceo: list[dict] | None = None, **settings: object
) -> Hashiru:
    """A traced workspace (unless `settings` say otherwise) whose employees can be hired on
    the fake OpenAI API; its CEO plays `scripts()`, or `ceo`."""
    played = scripts() | ({"ceo": Script(ceo)} if ceo else {})
    return make_hashiru(
        played,
        openai_api_key=KEY,
        openai_base_url=f"{cloud.url}/v1",
        enable_memory=False,
        **{"tracing": True, **settings},
    )


async def turn(session: Session, text: str = "A haiku, then 3+3.") -> str | None:
    """Run one turn as the chat does; the trace id its last update names."""
    updates = [update async for update in run_turn(session, text)]
    assert updates[-1].done
    return updates[-1].trace_id


def spans_of(hashiru: Hashiru, trace_id: str | None) -> list[dict[str, Any]]:
    assert hashiru.tracing is not None and trace_id is not None
    return hashiru.tracing.spans(trace_id)


def parents(rows: list[display.WaterfallRow]) -> list[int | None]:
    """Each row's parent's index, read from the depths alone (the last row one shallower)."""
    found: list[int | None] = []
    for i, row in enumerate(rows):
        above = [j for j in range(i) if rows[j].depth == row.depth - 1]
        found.append(above[-1] if above else None)
    return found


async def test_a_turns_spans_are_rows_under_their_parents_on_the_turns_timeline(
    make_hashiru, cloud
) -> None:
    hashiru = company(make_hashiru, cloud)
    trace_id = await turn(Sessions(hashiru).get("s"))
    spans = spans_of(hashiru, trace_id)
    rows = display.waterfall(spans)

    assert [(row.depth, row.label) for row in rows] == TREE
    assert display.waterfall(list(reversed(spans))) == rows, "the order given does not matter"
    root = rows[0]
    assert (root.start_ms, root.kind, root.failed, root.marks) == (0, "invoke_agent", False, ())
    for row, parent in zip(rows, parents(rows), strict=True):  # each bar within its parent's
        if parent is not None:
            assert rows[parent].start_ms <= row.start_ms
            assert row.end_ms <= rows[parent].end_ms
    steps = [row for row in rows if row.kind == "step"]
    for earlier, later in itertools.pairwise(steps):  # one after the other
        assert earlier.end_ms <= later.start_ms

    # the poet's call: timed from the turn's start, as long as the poet took
    [poet_span] = [s for s in spans if s["name"] == "chat poet"]
    [poet] = [row for row in rows if row.label == "chat poet"]
    began = datetime.fromisoformat(poet_span["start_time"])
    turn_began = min(datetime.fromisoformat(s["start_time"]) for s in spans)
    assert poet.start_ms == (began - turn_began).total_seconds() * 1000 > 0
    assert poet.duration_ms >= POET_SECONDS * 1000 and poet.took.endswith(" ms")

    # who, how much: the paid employee's tokens and dollars as the ledger settled them
    [paid] = [row for row in rows if row.label == "chat gpt-4.1-mini · cloud"]
    [settled] = [e for e in hashiru.ledger.entries() if e.kind == "settle" and e.agent == "cloud"]
    assert (paid.kind, paid.tokens) == ("chat", "1,000/200")
    assert settled.usd == Decimal("0.00072") and paid.usd == "0.00072"  # $0.40 in, $1.60 out /M
    hires = [row.marks for row in rows if row.label == "execute_tool hire_agent"]
    assert hires == [("hired poet (scripted:poet)",), (f"hired cloud ({CLOUD})",)]
    # the turn: every model call's tokens, and what the run spent
    calls = [s["attributes"] for s in spans if s["name"].startswith("chat ")]
    tokens_in = sum(a["gen_ai.usage.input_tokens"] for a in calls)
    tokens_out = sum(a["gen_ai.usage.output_tokens"] for a in calls)
    assert root.tokens == f"{tokens_in:,}/{tokens_out:,}" and tokens_in > 1800
    run_id = spans[0]["attributes"]["hashiru.run_id"]
    spent = hashiru.ledger.state(run_id).run_spent
    assert root.usd == display.usd(spent.quantize(Decimal("1e-6"), rounding=ROUND_UP))
    assert root.took == display.took(root.duration_ms)


async def test_a_refusal_and_a_failed_tool_are_marked_on_their_rows(make_hashiru, cloud) -> None:
    ceo = [{"tool_calls": [hire("cloud", CLOUD), call("no_such_tool")]}, {"text": "cannot"}]
    hashiru = company(make_hashiru, cloud, ceo, budget_usd=Decimal(0))
    rows = display.waterfall(spans_of(hashiru, await turn(Sessions(hashiru).get("s"))))
    marked = {row.label: (row.failed, row.marks) for row in rows if row.failed or row.marks}
    refused = marked.pop("execute_tool hire_agent")
    assert refused[0] and len(refused[1]) == 1 and refused[1][0].startswith("refused: ")
    assert "budget" in refused[1][0]
    assert marked == {"execute_tool no_such_tool": (True, ("failed (tool_error)",))}

    drawn = [m.groupdict() for m in ROW.finditer(panels.waterfall_html(rows, "t"))]
    failed = {d["who"]: (d["failed"], d["colour"]) for d in drawn if d["failed"]}
    assert failed == {
        "execute_tool hire_agent": (" data-failed", panels.FAILED_COLOUR),
        "execute_tool no_such_tool": (" data-failed", panels.FAILED_COLOUR),
    }


async def test_the_panel_draws_each_row_at_its_offset_indented_by_its_depth(
    make_hashiru, cloud
) -> None:
    hashiru = company(make_hashiru, cloud)
    trace_id = await turn(Sessions(hashiru).get("s"))
    rows = display.waterfall(spans_of(hashiru, trace_id))
    shown = panels.waterfall_html(rows, trace_id or "")

    drawn = [m.groupdict() for m in ROW.finditer(shown)]
    assert len(drawn) == len(rows) == len(TREE)
    total = rows[0].duration_ms  # the turn spans the whole timeline
    for row, bar in zip(rows, drawn, strict=True):
        assert float(bar["indent"]) == pytest.approx(0.9 * row.depth)
        assert float(bar["left"]) == pytest.approx(100 * row.start_ms / total, abs=0.01)
        assert float(bar["width"]) == pytest.approx(100 * row.duration_ms / total, abs=0.01)
        shown_as = [html.unescape(bar[k]) for k in ("who", "took", "tokens", "usd")]
        assert shown_as == [
            row.label,
            row.took,
            row.tokens,
            row.usd,
        ]
        assert bar["colour"] == panels.TRACE_KINDS[row.kind][1] and not bar["failed"]
    assert (drawn[0]["left"], drawn[0]["width"]) == ("0.00", "100.00")
    assert f'data-trace="{trace_id}"' in shown and f"trace {trace_id}" in shown
    assert '<div class="marks" style="padding-left:1.8em">hired poet (scripted:poet)</div>' in shown

    assert "are gone" in panels.waterfall_html([], "t"), "a trace no longer kept says so"
    odd = [display.WaterfallRow(0, "chat", "chat <b>&", 0, 0.4, "<1 ms", "", "", False, ("<i>",))]
    odd_html = panels.waterfall_html(odd, "t")
    [who] = [m["who"] for m in ROW.finditer(odd_html)]  # every value escaped: the row parses
    assert who == "chat &lt;b&gt;&amp;" and "&lt;i&gt;" in odd_html


def handler(app: ui.App, wiring: str, name: str) -> Any:
    """The app's own handler `name`, as `wiring` (`wire_chat`...) registered it."""
    qualname = f"{wiring}.<locals>.{name}"
    [found] = {
        f.fn for f in app.blocks.fns.values() if getattr(f.fn, "__qualname__", "") == qualname
    }
    return found


def trace_panel(app: ui.App) -> gr.HTML:
    [found] = [b for b in app.blocks.blocks.values() if b.elem_id == "trace"]
    return found


async def test_the_app_shows_the_latest_turns_waterfall_or_says_why_there_is_none(
    make_hashiru, cloud
) -> None:
    hashiru = company(make_hashiru, cloud)
    app = ui.build_app(hashiru)
    panel, tab = trace_panel(app), gr.Request(session_hash="tab")
    opened = handler(app, "wire_page", "opened")
    chat, after = handler(app, "wire_chat", "chat"), handler(app, "wire_chat", "after")
    note = panels.trace_note(panels.NO_TURN_YET)
    assert (await asyncio.to_thread(opened, "", tab))[panel] == note

    async for _ in chat({"text": "A haiku, then 3+3.", "files": []}, tab):
        pass
    shown = (await asyncio.to_thread(after, tab))[panel]
    [trace_id] = re.findall(r'data-trace="([0-9a-f]{32})"', shown)
    assert shown == panels.waterfall_html(display.waterfall(spans_of(hashiru, trace_id)), trace_id)
    assert len(ROW.findall(shown)) == len(TREE)

    # another tab (or a reload) opening the conversation sees its latest turn's trace too
    conversation = app.session(tab).conversation.id
    reload = gr.Request(session_hash="reload")
    assert (await asyncio.to_thread(opened, conversation, reload))[panel] == shown
    assert (await handler(app, "wire_conversations", "new_chat")(tab))[panel] == note

    # after a restart the conversation is there, its spans are not; with tracing off, none are
    for settings, said in (({}, panels.NO_TRACE_KEPT), ({"tracing": False}, panels.TRACING_OFF)):
        restarted = ui.build_app(company(make_hashiru, cloud, **settings))
        reopened = await asyncio.to_thread(
            handler(restarted, "wire_page", "opened"), conversation, reload
        )
        assert reopened[trace_panel(restarted)] == panels.trace_note(said)
        assert restarted.session(reload).conversation.id == conversation


def test_hashiru_ui_runs_with_tracing_on() -> None:
    parse = build_parser().parse_args
    assert traced(parse(["ui"]))
    assert traced(parse(["run", "Check.", "--trace", "t.json"]))
    assert not traced(parse(["run", "Check."]))


@pytest.mark.slow
def test_a_browser_shows_the_turns_waterfall_beside_the_chat(serve, browser, artifacts) -> None:
    served = serve(poet_turn(poet_seconds=0.5), tracing=True, **PAID)
    page = open_app(browser, served)
    expect(page.locator("#trace")).to_contain_text(panels.NO_TURN_YET)
    send(page, "Write me a haiku about the sea.")
    wait_for_answer(page, FINAL)
    expect(page.locator("#trace .row")).to_have_count(10)  # 3 steps, 4 calls, 2 tools, the turn
    page.locator("#trace-panel").screenshot(path=artifacts / "ui-trace.png")

    whole = page.locator('#trace .row[data-depth="0"] .bar').bounding_box()
    poet = page.locator('#trace .row[data-depth="3"] .bar').bounding_box()
    assert whole and poet and whole["width"] > 100
    assert whole["x"] < poet["x"] and poet["x"] + poet["width"] <= whole["x"] + whole["width"] + 1
    assert poet["width"] > 0.1 * whole["width"], "half a second of a turn of a few seconds"
    who = page.locator('#trace .row[data-depth="3"] .who')
    expect(who).to_have_text("chat poet")
    assert who.evaluate("e => parseFloat(getComputedStyle(e).paddingLeft)") > 20


def test_durations_read_as_people_say_them() -> None:
    assert [display.took(ms) for ms in (0.4, 12.4, 999.4, 1234, 59_994, 125_000)] == [
        "<1 ms",
        "12 ms",
        "999 ms",
        "1.23 s",
        "59.99 s",
        "2 min 05 s",
    ]
