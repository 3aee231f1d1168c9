"""The app in a real browser: Debian's Chromium, headless, driven by Playwright at 1280x800.

Every test serves the real app on 127.0.0.1 with scripted models, works it as a person would
(type, click, switch tabs) and checks what the page shows and what the workspace holds. The
screenshots land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from hashiru.economy.ledger import NO_RUN
from hashiru.messages import Message
from hashiru.providers.scripted import Script
from tests.ui.conftest import Served, call

VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 15_000  # the longest any single thing may take to show
TITLE = ".title > .md"  # a step's title, without its duration and cost
ROWS_JS = """grid => ({
    count: Number(grid.getAttribute('aria-rowcount')) - 1,
    rows: [...grid.querySelectorAll('.virtual-row')].map(
        row => [...row.querySelectorAll('[role=gridcell]')].map(cell => cell.innerText.trim()))
})"""
POEM = "Waves fold into light, the tide keeps its patient time."
FINAL = "Here is your haiku, written by our poet and checked by me."
ADD = "def run(a, b):\n    return {'sum': a + b}\n"
PAIR = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}
# A scripted call costs local_usd_per_hour * seconds: $0.01 a second, so money moves visibly,
# and the $1.20 a call holds (for its 120 s timeout) leaves room in the $5 budget.
PAID = {"local_usd_per_hour": 36, "enable_memory": False}


# --- scripts ------------------------------------------------------------------------------


def hire(name: str) -> dict:
    return call(
        "hire_agent",
        name=name,
        model=f"scripted:{name}",
        system_prompt="You write short poems.",
        description="A poet.",
    )


def poet_turn(poet_seconds: float = 1.0) -> dict[str, Script]:
    """A CEO that talks, hires `poet`, asks it (it takes `poet_seconds`), then answers."""
    ceo = Script(
        [
            {
                "text": "Let me find a poet for this. ",
                "token_delay": 0.03,
                "tool_calls": [hire("poet")],
            },
            {"tool_calls": [call("ask_agent", name="poet", prompt="A haiku about the sea.")]},
            {"text": FINAL, "token_delay": 0.1},  # 1.2 s of streaming, word by word
        ]
    )
    return {"ceo": ceo, "poet": Script([{"text": POEM, "delay": poet_seconds}], repeat=True)}


def task_of(messages: Sequence[Message]) -> str:
    return next(m.text for m in reversed(messages) if m.role == "user")


# --- the page -----------------------------------------------------------------------------


def open_app(browser: Browser | BrowserContext, served: Served) -> Page:
    """A new tab on the app, once the page's load event has filled the panels."""
    if isinstance(browser, BrowserContext):  # a tab beside others, sized by its context
        page = browser.new_page()
    else:
        page = browser.new_page(viewport=VIEWPORT)
    load(page, served)
    return page


def load(page: Page, served: Served) -> None:
    page.set_default_timeout(WAIT_MS)
    page.goto(served.url)
    show_tab(page, "tools")  # the tools table is filled by the load event, and never empty
    expect(page.locator("#tools [role=gridcell]").first).to_be_visible(timeout=WAIT_MS)
    show_tab(page, "team")


def show_tab(page: Page, name: str) -> None:
    page.locator(f"#tab-{name}-button").click()
    expect(page.locator(f"#tab-{name}")).to_be_visible()


def send(page: Page, text: str) -> None:
    box = page.locator("#message textarea")
    expect(box).to_be_editable(timeout=WAIT_MS)
    box.fill(text)
    box.press("Enter")


def wait_for_answer(page: Page, text: str) -> None:
    """The CEO's message `text` is in the chat and the turn is over (the input is back)."""
    expect(page.locator("#chat [data-testid=bot]").last).to_contain_text(text, timeout=WAIT_MS)
    expect(page.locator("#message textarea")).to_be_editable(timeout=WAIT_MS)


def wait_for_part(page: Page, part: str, whole: str) -> None:
    """The chat shows `part` of `whole` and not yet all of it: `whole` is streaming."""
    page.wait_for_function(
        """([part, whole]) => {
            const text = document.querySelector('#chat').textContent;
            return text.includes(part) && !text.includes(whole);
        }""",
        arg=[part, whole],
        polling="raf",
        timeout=WAIT_MS,
    )


def step(page: Page, title: str) -> Locator:
    """The chat's tool step titled `title` after its mark (e.g. 'ask_agent → poet')."""
    titled = re.compile(rf"^\W*{re.escape(title)}\s*$")
    return page.locator("#chat .thought-group").filter(has=page.locator(TITLE, has_text=titled))


def step_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(f"#chat .thought-group > {TITLE}").all_inner_texts()]


def rows(page: Page, grid: str) -> list[list[str]]:
    """Every row of a Dataframe; fails if the table is virtualised and hides some."""
    table = page.locator(f"{grid} [role=grid]").evaluate(ROWS_JS)
    assert len(table["rows"]) == table["count"], f"{grid}: not every row is rendered"
    return table["rows"]


def choose(page: Page, dropdown: Locator, option: str) -> None:
    dropdown.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(dropdown).to_have_value(option)


def column(page: Page, grid: str, index: int = 0) -> list[str]:
    return [row[index] for row in rows(page, grid)]


def cell(page: Page, grid: str, text: str) -> Locator:
    return page.locator(f"{grid} [role=gridcell]").filter(
        has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")
    )


def wait_until(condition: Callable[[], Any], what: str, seconds: float = WAIT_MS / 1000) -> Any:
    """For what the workspace holds (not the page): poll until `condition()` is truthy."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def shoot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=artifacts / f"ui-{name}.png")


class Watch:
    """Every request a page makes and every error it logs, from before it loads."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error} {error.stack}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")


# --- the tests ----------------------------------------------------------------------------


def test_a_turn_streams_its_steps_and_answer_and_moves_team_and_budget(
    serve, browser, artifacts
) -> None:
    served = serve(poet_turn(poet_seconds=1.5), **PAID)
    page = open_app(browser, served)
    show_tab(page, "budget")
    expect(page.locator("#gauges")).to_contain_text("spent $0.0000")
    assert rows(page, "#tab-budget") == [], "a new workspace has an empty ledger"
    show_tab(page, "team")

    send(page, "Write me a haiku about the sea.")
    expect(page.locator("#chat [data-testid=user]")).to_contain_text("haiku about the sea")
    expect(page.locator("#chat")).to_contain_text("Let me find a poet", timeout=WAIT_MS)
    asking = step(page, "ask_agent → poet")
    expect(asking.locator(".loading-spinner")).to_be_visible(timeout=WAIT_MS)  # pending
    expect(asking.locator(TITLE)).to_have_text("⚙ ask_agent → poet")
    expect(page.locator("#message textarea")).to_be_disabled()  # one turn at a time
    expect(cell(page, "#team", "poet")).to_be_visible()  # the panel follows the hire mid-turn
    shoot(page, artifacts, "turn-running")

    wait_for_part(page, FINAL[:18], FINAL)  # the answer streams in, word by word
    wait_for_answer(page, FINAL)
    assert step_titles(page) == ["✓ hire_agent → poet", "✓ ask_agent → poet"]
    expect(asking.locator(".loading-spinner")).to_have_count(0)
    expect(asking.locator(".title")).to_contain_text(re.compile(r"\$0\.0\d\d\d \(1\.\ds\)"))
    asking.locator(".title").click()  # open the step: the employee's answer is inside
    expect(asking.locator(".content")).to_be_visible()
    expect(asking.locator(".content")).to_contain_text(f"poet: {POEM}")
    bot = page.locator("#chat [data-testid=bot]").all_inner_texts()
    assert bot[0].startswith("Let me find a poet") and FINAL in bot[-1], bot
    shoot(page, artifacts, "turn-done")

    team = {row[0]: row for row in rows(page, "#team")}
    assert team["poet"][1:5] == ["scripted:poet", "local", "1", "0"], team
    assert Decimal(team["poet"][5]) > 0, "the poet's 1.5 s cost money"
    show_tab(page, "budget")
    state = served.hashiru.ledger.state()
    assert state.usd_spent > 0 and state.usd_reserved == 0
    expect(page.locator("#gauges")).to_contain_text(f"spent ${state.usd_spent:.4f}")
    ledger = rows(page, "#tab-budget")
    assert len(ledger) == len(served.hashiru.ledger.entries())
    assert {"reserve", "settle"} <= {row[2] for row in ledger}
    assert {"ceo", "poet"} <= {row[3] for row in ledger}
    shoot(page, artifacts, "turn-budget")


def test_hiring_and_firing_from_the_team_panel(serve, browser, artifacts) -> None:
    employees = {name: Script([{"text": "ok"}], repeat=True) for name in ("poet", "critic")}
    served = serve(employees, enable_memory=False)
    company = served.hashiru.company
    page = open_app(browser, served)
    assert rows(page, "#team") == []

    page.get_by_text("Hire an employee").click()
    for name in ("poet", "critic"):
        page.locator("#hire-name textarea").fill(name)
        choose(page, page.get_by_role("combobox", name="Model", exact=True), f"scripted:{name}")
        page.get_by_label("System prompt").fill("You write.")
        page.get_by_label("What it is for").fill(f"A {name}.")
        page.get_by_role("button", name="Hire", exact=True).click()
        expect(cell(page, "#team", name)).to_be_visible(timeout=WAIT_MS)
    assert sorted(column(page, "#team")) == ["critic", "poet"]
    assert sorted(e.name for e in company.roster) == ["critic", "poet"]

    choose(page, page.locator("#fire-name input"), "poet")
    page.locator("#fire").click()
    expect(cell(page, "#team", "poet")).to_have_count(0, timeout=WAIT_MS)
    assert column(page, "#team") == ["critic"]
    assert [e.name for e in company.roster] == ["critic"]
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, artifacts, "team-fired")


def test_the_refresh_keeps_the_pick_to_fire(serve, browser) -> None:
    employees = {name: Script([{"text": "ok"}], repeat=True) for name in ("poet", "critic")}
    served = serve(employees, enable_memory=False)
    hashiru = served.hashiru

    def hire_elsewhere(name: str) -> None:  # as a `hashiru` command would, on its own loop
        hiring = hashiru.company.hire(
            hashiru.meter(NO_RUN), name, f"scripted:{name}", "You write.", f"A {name}."
        )
        with ThreadPoolExecutor(1) as thread:  # Playwright runs a loop on this one
            thread.submit(asyncio.run, hiring).result()

    hire_elsewhere("poet")
    page = open_app(browser, served)
    picked = page.locator("#fire-name input")
    choose(page, picked, "poet")
    hire_elsewhere("critic")
    expect(cell(page, "#team", "critic")).to_be_visible(timeout=WAIT_MS)  # the refresh came
    expect(picked).to_have_value("poet")
    page.locator("#fire").click()
    expect(cell(page, "#team", "poet")).to_have_count(0, timeout=WAIT_MS)
    assert [e.name for e in hashiru.company.roster] == ["critic"]


def test_switching_modes_off_removes_their_tools(serve, browser, artifacts) -> None:
    offered: list[set[str]] = []

    def ceo(messages: Sequence[Message], tools: Sequence[Any]) -> dict:
        offered.append({t.name for t in tools})
        return {"text": f"I was offered {len(tools)} tools."}

    served = serve({"ceo": Script([ceo], repeat=True)}, enable_memory=False)
    page = open_app(browser, served)
    show_tab(page, "tools")
    before = set(column(page, "#tools"))
    assert {"hire_agent", "fire_agent", "ask_agent", "run_python", "create_tool"} <= before

    show_tab(page, "settings")
    modes = page.locator("#modes")
    expect(modes.get_by_label("Memory")).not_to_be_checked()  # as the settings say
    for label in ("Agent creation", "Tool invocation"):
        expect(modes.get_by_label(label)).to_be_checked()
        modes.get_by_label(label).uncheck()
        expect(modes.get_by_label(label)).not_to_be_checked()
    show_tab(page, "tools")
    expect(cell(page, "#tools", "hire_agent")).to_have_count(0, timeout=WAIT_MS)
    expect(cell(page, "#tools", "run_python")).to_have_count(0, timeout=WAIT_MS)
    after = set(column(page, "#tools"))
    assert {"hire_agent", "fire_agent", "run_python", "read_file"}.isdisjoint(after), after
    assert {"ask_agent", "list_agents", "create_tool", "list_tools"} <= after, after
    shoot(page, artifacts, "modes-tools")

    send(page, "What can you do?")
    wait_for_answer(page, "I was offered")
    assert offered[-1] == after, "the CEO is offered exactly what the Tools tab lists"
    settings = served.hashiru.settings
    assert settings.enable_agent_creation and settings.enable_tool_invocation, (
        "a session's switches are its own, not the workspace's"
    )


def test_nothing_but_the_app_is_fetched_and_nothing_logs_an_error(serve, browser) -> None:
    served = serve(poet_turn(poet_seconds=0.2), **PAID)
    page = browser.new_page(viewport=VIEWPORT)
    watch = Watch(page)
    load(page, served)
    for tab in ("budget", "memory", "settings", "team"):  # every panel renders
        show_tab(page, tab)
    send(page, "Write me a haiku about the sea.")
    wait_for_answer(page, FINAL)
    show_tab(page, "budget")
    expect(page.locator("#spend")).to_be_visible()

    origin = served.url.rstrip("/")
    assert watch.urls, "the page made requests"
    foreign = [url for url in watch.urls if not (url == served.url or url.startswith(origin + "/"))]
    assert foreign == [], f"requests beyond the app: {foreign}"
    assert watch.errors == []


def test_stop_cancels_the_turn_and_releases_its_hold(serve, browser, artifacts) -> None:
    served = serve(poet_turn(poet_seconds=30), **PAID)
    ledger = served.hashiru.ledger
    page = open_app(browser, served)

    send(page, "Write me a haiku about the sea.")
    asking = step(page, "ask_agent → poet")
    expect(asking.locator(".loading-spinner")).to_be_visible(timeout=WAIT_MS)
    wait_until(lambda: ledger.state().usd_reserved > 0, "the poet's call to hold money")
    page.locator("#message").get_by_role("button", name="Stop").click()

    expect(page.locator("#chat")).to_contain_text("Stopped", timeout=WAIT_MS)
    expect(page.locator("#message textarea")).to_be_editable(timeout=WAIT_MS)
    expect(asking.locator(".loading-spinner")).to_have_count(0)  # the step is over too
    wait_until(lambda: ledger.state().usd_reserved == 0, "the stopped call to release its hold")
    assert FINAL not in page.locator("#chat").inner_text()
    shoot(page, artifacts, "stopped")

    send(page, "Are you still there?")  # the CEO's script goes on with its next turn
    wait_for_answer(page, FINAL)
    assert ledger.state().usd_reserved == 0
    assert served.hashiru.company.roster.get("poet").summary()["calls"] == 0, "the call was stopped"


def test_two_tabs_hold_their_own_conversations_at_once(serve, browser, artifacts) -> None:
    arrived: list[str] = []

    async def meet(messages: Sequence[Message], tools: Sequence[Any]) -> dict:
        """Answers once both tabs' runs are in here together, or after 10 s alone."""
        task = task_of(messages)
        arrived.append(task)
        for _ in range(200):
            if len(arrived) >= 2:
                break
            await asyncio.sleep(0.05)
        company = "together" if len(arrived) >= 2 else "alone"
        return {"text": f"Answer to {task}, {company}.", "token_delay": 0.02}

    served = serve({"ceo": Script([meet], repeat=True)}, enable_memory=False)
    context = browser.new_context(viewport=VIEWPORT)
    tabs = {name: open_app(context, served) for name in ("apples", "pears")}
    for name, page in tabs.items():
        send(page, f"Tell me about {name}")
    for name, page in tabs.items():
        wait_for_answer(page, f"Answer to Tell me about {name}, together.")
    for name, page in tabs.items():
        other = "pears" if name == "apples" else "apples"
        chat = page.locator("#chat").inner_text()
        assert other not in chat, f"the {name} tab shows the {other} conversation"
        assert page.locator("#chat [data-testid=user]").all_inner_texts() == [
            f"Tell me about {name}"
        ]
        shoot(page, artifacts, f"tab-{name}")
    context.close()


def test_a_created_tool_waits_for_approval_then_works(serve, browser, artifacts) -> None:
    create = call(
        "create_tool",
        name="add_pair",
        description="Adds two numbers",
        parameters=PAIR,
        code=ADD,
        examples=[{"a": 1, "b": 2}],
    )
    ceo = Script(
        [
            {"text": "I will write a tool for that. ", "tool_calls": [create]},
            {"tool_calls": [call("add_pair", a=2, b=3)]},
            {"text": "2 + 3 is 5, by my new tool.", "token_delay": 0.02},
        ]
    )
    served = serve({"ceo": ceo}, enable_memory=False, tool_approval=True)
    registry = served.hashiru.toolsmith.registry
    page = open_app(browser, served)

    send(page, "Add 2 and 3 with a tool of your own.")
    approval = page.locator("#approval").first  # Gradio nests a copy of a Group's id
    expect(approval).to_be_visible(timeout=WAIT_MS)
    expect(approval).to_contain_text("add_pair")
    expect(approval).to_contain_text("Adds two numbers")
    expect(approval.locator(".cm-content")).to_contain_text("return {'sum': a + b}")
    expect(step(page, "create_tool → add_pair").locator(".loading-spinner")).to_be_visible()
    assert [m.name for m in registry.manifests()] == [], "nothing is saved before approval"
    shoot(page, artifacts, "approval")

    page.locator("#approve").click()
    expect(approval).to_be_hidden(timeout=WAIT_MS)
    wait_for_answer(page, "2 + 3 is 5, by my new tool.")
    assert step_titles(page) == ["✓ create_tool → add_pair", "✓ add_pair"]
    adding = step(page, "add_pair")
    adding.locator(".title").click()
    expect(adding.locator(".content")).to_be_visible()
    expect(adding.locator(".content")).to_contain_text('"sum": 5')
    manifest = registry.get("add_pair")
    assert manifest.approved and manifest.active

    show_tab(page, "tools")
    tools = {row[0]: row for row in rows(page, "#tools")}
    assert tools["add_pair"][1:4] == ["generated", "1", "offered"], tools.get("add_pair")
    shoot(page, artifacts, "approved-tool")
