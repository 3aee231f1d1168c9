"""The app over a pool of Ollama hosts (two fake Ollama servers on 127.0.0.1, each with its own
memory budget): the Team panel names each employee's host, the budget shows each host's memory,
and a model no host has is asked for, then downloaded as a step whose bar fills."""

from __future__ import annotations

import re
from collections.abc import Iterator

import gradio as gr
import pytest

from hashiru.agents.events import ModelPulling, ToolCallFinished
from hashiru.agents.toolsmith import ToolRequest
from hashiru.providers.scripted import Script
from hashiru.runtime import Hashiru
from hashiru.transcript import Transcript, redraw
from hashiru.ui import panels
from hashiru.ui.layout import layout
from hashiru.ui.session import Sessions
from hashiru.ui.turn import run_turn
from hashiru.ui.wiring.chat import _approval_prompt
from tests.agents.conftest import hire
from tests.fakes.ollama import FakeOllama

GIB = 2**30
LAYERS = [1_930_000_000, 12_000, 6_000, 485]  # weights, template, license, params: llama-like
PULLED = "ollama:phi4-mini"


@pytest.fixture
def hosts() -> Iterator[tuple[FakeOllama, FakeOllama]]:
    """a: x and y, 4 GiB for HASHIRU; b: x, 8 GiB; either can download phi4-mini."""
    with FakeOllama() as a, FakeOllama() as b:
        a.models = {"x:latest": 2 * GIB, "y:latest": GIB}
        b.models = {"x:latest": 2 * GIB}
        a.registry = b.registry = {"phi4-mini": LAYERS}
        yield a, b


def pool(make_hashiru, hosts: tuple[FakeOllama, FakeOllama], ceo: list[dict]) -> Hashiru:
    a, b = hosts
    return make_hashiru(
        {"ceo": Script(ceo), "poet": Script([{"text": "waves"}])},
        ollama_hosts=[{"url": a.url, "memory_gib": 4}, {"url": b.url, "memory_gib": 8}],
        enable_memory=False,
        retries=0,
    )


def gauges(html: str) -> dict[str, str]:
    """Each memory gauge's caption, by the host it names ("" for the only one)."""
    found = re.findall(
        r'data-gauge="resource"(?: data-host="([^"]*)")?><b>[^<]*</b> <small>([^<]*)', html
    )
    return dict(found)


async def test_the_team_names_each_host_and_the_budget_shows_each_hosts_memory(
    make_hashiru, hosts
) -> None:
    a, b = hosts
    hashiru = pool(make_hashiru, hosts, [{"text": "-"}])
    assert gauges(panels.budget_html(hashiru.ledger.state())).keys() == {
        "this machine",
        a.url,
        b.url,
    }
    meter = hashiru.meter("run")
    for name, model in (("x1", "ollama:x"), ("y1", "ollama:y"), ("poet", "scripted:poet")):
        await hashiru.company.hire(meter, name, model, "s", "d")

    host = panels.TEAM_COLUMNS.index("host")
    hosted = {row[0]: row[host] for row in panels.team_rows(hashiru)}
    assert hosted == {"x1": b.url, "y1": a.url, "poet": ""}  # b had more room for x
    shown = gauges(panels.budget_html(hashiru.ledger.state()))
    assert shown[a.url] == f"{a.url}: 3.00 GiB free of 4.00 GiB · ollama:y"
    assert shown[b.url] == f"{b.url}: 6.00 GiB free of 8.00 GiB · ollama:x"
    assert shown["this machine"].startswith("this machine: ")
    assert shown["this machine"].endswith("· no model loaded")


async def test_one_budget_is_one_gauge_as_before(make_hashiru) -> None:
    hashiru = make_hashiru({"ceo": Script([{"text": "-"}])}, memory_gib=8, enable_memory=False)
    assert gauges(panels.budget_html(hashiru.ledger.state())) == {"": "8.00 GiB free of 8.00 GiB"}


def downloads(messages: list[dict]) -> list[tuple[str, str, str]]:
    """Each download step in the chat: its title, status and content."""
    return [
        (m["metadata"]["title"], m["metadata"]["status"], m["content"])
        for m in messages
        if m.get("metadata", {}).get("title", "").startswith("⬇")
    ]


async def test_a_download_is_asked_then_shown_as_a_step_whose_bar_fills(
    make_hashiru, hosts
) -> None:
    b = hosts[1]
    ceo = [{"tool_calls": [hire("coder", PULLED)]}, {"text": "hired"}]
    session = Sessions(pool(make_hashiru, hosts, ceo)).get("s")
    asked: list[ToolRequest] = []
    seen: list[tuple[str, str, str]] = []  # the download step after each of its events
    async for update in run_turn(session, "hire a coder"):
        if update.approval:
            asked.append(update.approval.request)
            update.approval.decision.set_result(True)
        if update.event is not None and update.event.kind == "model_pulling":
            seen += downloads(update.transcript.messages)

    [request] = asked
    assert (request.name, request.pull_host) == (PULLED, b.url)  # the host with most room
    title = f"⬇ Downloading {PULLED} to {b.url}"
    assert seen[0] == (title, "pending", f"`{'░' * 20}` 0% · pulling manifest")
    partly = [content for _, status, content in seen if status == "pending" and "█" in content]
    assert partly, "the bar filled while it downloaded"
    done = (f"⬇ Downloaded {PULLED} to {b.url}", "done", f"`{'█' * 20}` 100% · 1.80 of 1.80 GiB")
    assert seen[-1] == done
    assert downloads(session.chat) == [done]  # one step, redrawn as it went
    # the saved turn keeps the download's last step, so the conversation redraws it the same
    saved = session.hashiru.conversations.get(session.conversation.id)
    assert downloads(redraw(saved).messages) == [done]
    assert [e.host for e in session.hashiru.company.roster] == [b.url]


def test_a_download_cut_short_stops_spinning_when_the_run_moves_on() -> None:
    transcript = Transcript()
    host = "http://gpu-b:11434"
    for completed in (0, 483_000_000):
        transcript.apply(
            ModelPulling(
                model=PULLED,
                host=host,
                status="pulling 1a2b",
                completed=completed,
                total=1_932_000_000,
            )
        )
    title = f"⬇ Downloading {PULLED} to {host}"
    pending = (title, "pending", f"`{'█' * 5}{'░' * 15}` 25% · 0.45 of 1.80 GiB · pulling 1a2b")
    assert downloads(transcript.messages) == [pending]
    transcript.apply(
        ToolCallFinished(
            call_id="1", name="hire_agent", arguments={}, ok=False, error="too big", seconds=1
        )
    )
    assert downloads(transcript.messages) == [(title, "done", pending[2])]


def test_the_approval_dialog_asks_for_a_download_with_no_code_to_show() -> None:
    with gr.Blocks():
        controls = layout("test")
    request = ToolRequest(
        name=PULLED,
        description=f"Hiring on {PULLED} needs it downloaded from the Ollama library.",
        pull_host="http://gpu-b:11434",
    )
    shown = _approval_prompt(controls, request)
    assert shown[controls.approval_text] == (
        f"The CEO wants to download **{PULLED}** to **http://gpu-b:11434**. Hiring on {PULLED} "
        f"needs it downloaded from the Ollama library. Download {PULLED} to http://gpu-b:11434?"
    )
    assert shown[controls.approval_code].visible is False
    assert shown[controls.approve].value == "Download"
    # a tool the CEO wrote still shows its code, in a box made visible again
    tool = _approval_prompt(controls, ToolRequest(name="add", description="Adds", code="x = 1"))
    assert (tool[controls.approval_code].visible, tool[controls.approval_code].value) == (
        True,
        "x = 1",
    )
    assert tool[controls.approve].value == "Enable the tool"
