"""The app asks before an MCP call where the server's approval setting says to: the prompt names
the tool and its server and shows the call's arguments; allowing it runs the call."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from playwright.sync_api import expect

from hashiru.messages import Message, ToolSpec
from hashiru.providers.scripted import Script
from tests.tools.test_mcp import http, http_url
from tests.ui.conftest import artifacts, browser, call, serve
from tests.ui.test_browser import WAIT_MS, open_app, send, shoot, wait_for_answer

__all__ = ["artifacts", "browser", "http_url", "serve"]  # fixtures these tests use


@pytest.mark.slow  # a browser and the app: about ten seconds
def test_the_app_asks_before_an_mcp_call(serve, browser, artifacts, http_url: str) -> None:
    def answer(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict:
        return {"text": f"The server says {messages[-1].tool_results[0].content}."}

    ceo = Script([{"tool_calls": [call("calc__add", a=2, b=3)]}, answer])
    served = serve(
        {"ceo": ceo}, enable_memory=False, mcp_servers={"calc": http(http_url, approval="always")}
    )
    page = open_app(browser, served)

    send(page, "Add 2 and 3 with the calculator.")
    approval = page.locator("#approval").first
    expect(approval).to_be_visible(timeout=WAIT_MS)
    expect(approval).to_contain_text("The CEO wants to call calc__add (Add two integers.)")
    expect(approval).to_contain_text(
        "on the MCP server calc, with these arguments. Allow this call?"
    )
    expect(approval.locator(".cm-content")).to_contain_text('"a": 2')
    expect(page.locator("#approve")).to_have_text("Allow")
    shoot(page, artifacts, "mcp-approval")

    page.locator("#approve").click()
    expect(approval).to_be_hidden(timeout=WAIT_MS)
    wait_for_answer(page, 'The server says {"result":5}.')
