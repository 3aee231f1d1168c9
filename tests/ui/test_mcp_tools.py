"""The Tools tab lists the MCP servers' tools with their server, in a real browser: real MCP
servers (stdio and streamable HTTP, tests.fakes.mcp_servers), one that never starts and says
why, one disabled (and so not started); no secret from `env` or `headers` reaches the page."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from hashiru.providers.scripted import Script
from hashiru.ui import panels
from tests.fakes.mcp_servers import NEVER_STARTS, http_server, stdio_command
from tests.ui.test_browser import WAIT_MS, cell, open_app, rows, shoot, show_tab

REPO = Path(__file__).resolve().parents[2]
ENV_SECRET = "env-s3cret-for-the-page"
HEADER_SECRET = "header-s3cret-for-the-page"


def stdio(mode: str, **more: object) -> dict:
    command, args = stdio_command(mode)
    return {"command": command, "args": args, "cwd": str(REPO), **more}


def test_the_tools_tab_lists_mcp_tools_with_their_server(serve, browser, artifacts) -> None:
    with http_server("ok", token=HEADER_SECRET) as url:
        servers = {
            "local": stdio("ok", env={"TOKEN": ENV_SECRET}),
            "remote": {"url": url, "headers": {"Authorization": f"Bearer {HEADER_SECRET}"}},
            "broken": stdio("never-start"),
            "resting": stdio("ok", enabled=False),
        }
        served = serve({"ceo": Script([{"text": "hi"}])}, enable_memory=False, mcp_servers=servers)
        page = open_app(browser, served)
        show_tab(page, "tools")
        expect(cell(page, "#mcp-tools", "local__echo")).to_be_visible(timeout=WAIT_MS)
        expect(cell(page, "#mcp-tools", "remote__add")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#mcp-note")).to_contain_text("4 MCP servers, 20 tools, 1 down")

        table = rows(page, "#mcp-tools")
        by_name = {row[0]: row for row in table if row[0] != panels.NO_TOOL}
        assert by_name["local__echo"] == ["local__echo", "local", "enabled", "Say the text back."]
        assert by_name["remote__add"][1:3] == ["remote", "enabled"]
        [down] = [row for row in table if row[1] == "broken"]
        assert down[:3] == [panels.NO_TOOL, "broken", "down"]
        assert down[3].startswith("it did not start") and NEVER_STARTS in down[3]  # why
        # a disabled server is not started: one row says it is disabled
        assert [row for row in table if row[1] == "resting"] == [
            [panels.NO_TOOL, "resting", "disabled", ""]
        ]
        # the CEO's own tools stay in their table; the MCP servers' are in theirs
        assert "local__echo" not in {row[0] for row in rows(page, "#tools")}
        text = page.content()
        assert ENV_SECRET not in text and HEADER_SECRET not in text
        page.locator("#mcp-note").scroll_into_view_if_needed()
        shoot(page, artifacts, "mcp-tools")
