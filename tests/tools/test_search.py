"""web_search against fakes on 127.0.0.1 that speak each backend's real format.

SearXNG and Brave are fake HTTP servers (tests/fakes). ddgs has no setting for its endpoints,
but its DuckDuckGo engine keeps its URL in a class attribute: the real library (its HTTP client,
HTML parsing and ranking) is pointed at a fake DuckDuckGo HTML page by patching that attribute
and leaving only that engine registered. ddgs's HTTP client is Rust (primp), which the
socket guard cannot see: tests/conftest.py guards ddgs's own client too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest
from ddgs.engines import ENGINES
from ddgs.engines.duckduckgo import Duckduckgo
from pydantic import SecretStr

from hashiru.agents.events import ToolCallFinished
from hashiru.messages import ModelResponse
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru, RunResult
from hashiru.settings import Settings
from hashiru.tools import ToolFailure
from hashiru.tools.search import SearchConfig, search, search_tools
from tests.agents.conftest import call
from tests.conftest import refused_connections
from tests.fakes import brave as brave_fake
from tests.fakes import searxng as searxng_fake
from tests.fakes.brave import FakeBrave
from tests.fakes.searxng import FakeSearxng
from tests.fakes.server import Reply

KEY = "brave-test-key-7f3a9c"
HITS = [
    searxng_fake.hit(f"Result {n} &amp; more", f"https://example.org/{n}", f"Snippet {n}.")
    for n in range(1, 6)
]


def config(**changes: Any) -> SearchConfig:
    """The settings' config (defaults), changed as a test needs."""
    return replace(SearchConfig.from_settings(Settings.load()), **changes)


@pytest.fixture
def searx() -> Iterator[FakeSearxng]:
    with FakeSearxng() as fake:
        yield fake


@pytest.fixture
def brave() -> Iterator[FakeBrave]:
    with FakeBrave(KEY) as fake:
        yield fake


def on_searx(fake: FakeSearxng, **changes: Any) -> SearchConfig:
    return config(backend="searxng", searxng_url=fake.url + "/", **changes)


def on_brave(fake: FakeBrave, key: str = KEY, **changes: Any) -> SearchConfig:
    return config(backend="brave", brave_api_key=SecretStr(key), brave_url=fake.endpoint, **changes)


# SearXNG ----------------------------------------------------------------------------------------


async def test_searxng_results_are_mapped_and_cut_to_max_results(searx: FakeSearxng) -> None:
    searx.hits["rust async"] = HITS
    found = await search("  rust async ", 3, on_searx(searx))

    assert found["backend"] == "searxng" and found["query"] == "rust async"
    assert [r.model_dump() for r in found["results"]] == [
        {
            "title": f"Result {n} & more",
            "url": f"https://example.org/{n}",
            "snippet": f"Snippet {n}.",
        }
        for n in (1, 2, 3)
    ]
    [request] = searx.requests
    assert request.path == "/search"
    assert request.query == {"q": ["rust async"], "format": ["json"]}

    default = await search("rust async", None, on_searx(searx, max_results=2))
    assert len(default["results"]) == 2, "no max_results: the setting's count"
    capped = await search("rust async", 50, on_searx(searx, max_results=4))
    assert len(capped["results"]) == 4, "the setting is also the most"


async def test_searxng_with_json_off_says_how_to_turn_it_on(searx: FakeSearxng) -> None:
    searx.formats = ("html",)
    with pytest.raises(ToolFailure, match=r"HTTP 403: Forbidden .*json under search: formats"):
        await search("anything", 3, on_searx(searx))


# Brave ------------------------------------------------------------------------------------------


async def test_brave_sends_the_key_as_its_header_and_the_count(brave: FakeBrave) -> None:
    brave.hits["python"] = [
        brave_fake.hit(
            f"<strong>Python</strong> {n}",
            f"https://python.test/{n}",
            f"The <strong>Python</strong> page &#x27;{n}&#x27;",
        )
        for n in range(1, 26)
    ]
    found = await search("python", 3, on_brave(brave))

    assert [r.model_dump() for r in found["results"]] == [
        {
            "title": f"Python {n}",
            "url": f"https://python.test/{n}",
            "snippet": f"The Python page '{n}'",
        }
        for n in (1, 2, 3)
    ]
    [request] = brave.requests
    assert request.headers["x-subscription-token"] == KEY
    assert request.query == {"q": ["python"], "count": ["3"]}
    assert KEY not in json.dumps(found, default=str)

    many = await search("python", 50, on_brave(brave, max_results=50))
    assert brave.requests[-1].query["count"] == ["20"], "Brave refuses a count above 20"
    assert len(many["results"]) == 20


async def test_a_wrong_brave_key_is_a_tool_error_that_never_shows_a_key(brave: FakeBrave) -> None:
    wrong = "wrong-key-0000"
    with pytest.raises(ToolFailure, match="HTTP 422: The provided subscription token is invalid"):
        await search("python", 3, on_brave(brave, key=wrong))

    brave.failure = brave_fake.error(422, "SUBSCRIPTION_TOKEN_INVALID", f"bad {KEY}!", "auth")
    with pytest.raises(ToolFailure) as caught:
        await search("python", 3, on_brave(brave))
    assert "bad ***!" in str(caught.value) and KEY not in str(caught.value)


# Errors, for both HTTP backends ----------------------------------------------------------------

TEXT = {"content_type": "application/json", "chunks": [b'{"results": [ oops']}
FAILURES = {
    "server error": (
        {"searxng": Reply(500, {"error": "engine crashed"}), "brave": Reply(500, None)},
        r"answered HTTP 500: (engine crashed|null)",
    ),
    "rate limit": (
        {
            "searxng": Reply(429, {"error": "Too Many Requests"}, headers={"Retry-After": "30"}),
            "brave": brave_fake.rate_limited(),
        },
        r"rate-limiting these searches \(HTTP 429\); try again in (30|1) s",
    ),
    "not JSON": ({"searxng": Reply(**TEXT), "brave": Reply(**TEXT)}, "not JSON"),
    "JSON of another shape": (
        {"searxng": Reply(body={"answers": []}), "brave": Reply(body={"web": {"results": 3}})},
        "without the expected list of results",
    ),
}


@pytest.mark.parametrize("backend", ["searxng", "brave"])
@pytest.mark.parametrize("failure", FAILURES)
async def test_failures_are_tool_errors(
    searx: FakeSearxng, brave: FakeBrave, backend: str, failure: str
) -> None:
    replies, message = FAILURES[failure]
    fake, settings = (searx, on_searx(searx)) if backend == "searxng" else (brave, on_brave(brave))
    fake.failure = replies[backend]
    with pytest.raises(ToolFailure, match=message) as caught:
        await search("python", 3, settings)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("backend", ["searxng", "brave"])
async def test_timeouts_nothing_found_and_no_server_are_tool_errors(
    searx: FakeSearxng, brave: FakeBrave, backend: str
) -> None:
    fake, settings = (searx, on_searx(searx)) if backend == "searxng" else (brave, on_brave(brave))
    name = "SearXNG" if backend == "searxng" else "Brave Search"
    with pytest.raises(ToolFailure, match=f"{name} found nothing for 'nothing here'; try other"):
        await search("nothing here", 3, settings)

    fake.delay = 2.0
    started = time.monotonic()
    with pytest.raises(ToolFailure, match=rf"{name} did not answer within 0.2 s \(the setting f"):
        await search("python", 3, replace(settings, timeout=0.2))
    assert time.monotonic() - started < 1.5

    nowhere = {"searxng_url": "http://127.0.0.1:9"} if backend == "searxng" else {}
    nowhere |= {"brave_url": "http://127.0.0.1:9/res/v1/web/search"} if backend == "brave" else {}
    with pytest.raises(ToolFailure, match="could not reach") as caught:
        await search("python", 3, replace(settings, **nowhere))
    assert KEY not in str(caught.value)


# Choosing a backend -----------------------------------------------------------------------------


async def test_auto_picks_searxng_then_brave_then_ddgs(
    searx: FakeSearxng, brave: FakeBrave
) -> None:
    searx.hits["q"] = HITS
    brave.hits["q"] = [brave_fake.hit("B", "https://b.test/", "from Brave")]
    both = config(searxng_url=searx.url, brave_api_key=SecretStr(KEY), brave_url=brave.endpoint)
    assert both.backend == "auto"

    assert (await search("q", 1, both))["backend"] == "searxng"
    assert (await search("q", 1, replace(both, searxng_url=None)))["backend"] == "brave"
    assert len(searx.requests) == len(brave.requests) == 1
    assert replace(both, searxng_url=None, brave_api_key=None).chosen == "ddgs"
    assert replace(both, brave_api_key=SecretStr("")).chosen == "searxng"
    assert replace(both, backend="ddgs").chosen == "ddgs", "a named backend wins over auto"

    settings = Settings.load(
        {"BRAVE_API_KEY": KEY, "HASHIRU_WEB_SEARCH_MAX_RESULTS": "7", "HASHIRU_FETCH_TIMEOUT": "3"}
    )
    loaded = SearchConfig.from_settings(settings)
    assert (loaded.chosen, loaded.max_results, loaded.timeout) == ("brave", 7, 3.0)
    assert KEY not in repr(loaded)

    with pytest.raises(ToolFailure, match="no key is set \\(BRAVE_API_KEY"):
        await search("q", 1, config(backend="brave"))
    with pytest.raises(ToolFailure, match="searxng_url is not set"):
        await search("q", 1, config(backend="searxng"))


# ddgs -------------------------------------------------------------------------------------------

DDG_RESULT = """<div class="result results_links results_links_deep web-result ">
<div class="links_main links_deep result__body">
<h2 class="result__title"><a rel="nofollow" class="result__a" href="{url}">{title}</a></h2>
<div class="result__extras"><div class="result__extras__url">
<a class="result__url" href="{url}">{url}</a></div></div>
<a class="result__snippet" href="{url}">{snippet}</a>
<div class="clear"></div>
</div></div>"""


class FakeDuckDuckGo(BaseHTTPRequestHandler):
    """html.duckduckgo.com/html/: a POSTed form `q`, answered with its result page."""

    pages: ClassVar[dict[str, list[dict[str, str]]]] = {}  # by query; the fixture resets both
    forms: ClassVar[list[dict[str, list[str]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        self.forms.append(form)
        hits = self.pages.get(form.get("q", [""])[0], [])
        body = f"<html><body>{''.join(DDG_RESULT.format(**h) for h in hits)}</body></html>"
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ddg(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeDuckDuckGo]]:
    """The real DDGS, with DuckDuckGo its only engine, at a fake on 127.0.0.1."""
    monkeypatch.setattr(FakeDuckDuckGo, "pages", {})
    monkeypatch.setattr(FakeDuckDuckGo, "forms", [])
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDuckDuckGo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    monkeypatch.setattr(Duckduckgo, "search_url", f"http://127.0.0.1:{server.server_port}/html/")
    monkeypatch.setitem(ENGINES, "text", {"duckduckgo": Duckduckgo})
    yield FakeDuckDuckGo
    server.shutdown()
    server.server_close()


async def test_ddgs_maps_the_real_library_s_results(ddg: type[FakeDuckDuckGo]) -> None:
    ddg.pages["python"] = [
        {
            "url": f"https://py.test/{n}",
            "title": f"<b>Python</b> {n}",
            "snippet": f"About python {n}",
        }
        for n in range(1, 6)
    ]
    found = await search("python", 2, config(backend="ddgs"))

    assert found["backend"] == "ddgs"
    assert [r.model_dump() for r in found["results"]] == [
        {"title": f"Python {n}", "url": f"https://py.test/{n}", "snippet": f"About python {n}"}
        for n in (1, 2)
    ]
    assert ddg.forms[0]["q"] == ["python"]

    with pytest.raises(ToolFailure, match="ddgs found nothing for 'zzz': try other words"):
        await search("zzz", 2, config(backend="ddgs"))


# In a run ---------------------------------------------------------------------------------------


async def run_ceo(turns: list, **settings: Any) -> tuple[RunResult, list[ToolCallFinished]]:
    """One run of a scripted CEO; memory is off (recall would load the embedding model)."""
    loaded = Settings.load(ceo_model="scripted:ceo", enable_memory=False, **settings)
    hashiru = Hashiru.from_settings(loaded, [ScriptedProvider({"ceo": Script(turns)})])
    events: list = []
    try:
        result = await hashiru.run("find it", on_event=events.append)
    finally:
        await hashiru.aclose()
    return result, [e for e in events if isinstance(e, ToolCallFinished)]


async def test_the_ceo_searches_and_the_run_goes_on_after_an_error(searx: FakeSearxng) -> None:
    searx.hits["hashiru paper"] = HITS[:2]
    seen: list[str] = []  # the last message each step's model was sent: the tool's result

    def fail_next(messages, tools) -> dict:
        seen.append(messages[-1].model_dump_json())
        searx.failure = Reply(502, {"error": "upstream down"})
        return {"tool_calls": [call("web_search", query="hashiru paper")]}

    def answer(messages, tools) -> ModelResponse:
        seen.append(messages[-1].model_dump_json())
        return ModelResponse(text="See https://example.org/1")

    first = {"tool_calls": [call("web_search", query="hashiru paper")]}
    result, finished = await run_ceo([first, fail_next, answer], searxng_url=searx.url)

    assert [e.ok for e in finished] == [True, False]
    assert "https://example.org/1" in seen[0] and "Snippet 2." in seen[0]
    assert "HTTP 502: upstream down" in finished[1].error and "HTTP 502" in seen[1]
    assert result.answer == "See https://example.org/1"


async def test_web_search_is_under_the_invocation_switch_and_its_name_is_taken() -> None:
    [web_search] = search_tools(config())
    assert "not instructions" in web_search.description
    assert web_search.parameters["required"] == ["query"]

    offered: dict[bool, set[str]] = {}
    schema = {"type": "object", "properties": {}}
    create = call("create_tool", name="web_search", description="d", parameters=schema, code="")

    def look(invocation: bool):
        def play(messages, tools) -> dict:
            offered[invocation] = {t.name for t in tools}
            return {"tool_calls": [create]}

        return play

    _, [made] = await run_ceo([look(True), {"text": "ok"}])
    assert "web_search" in offered[True]
    assert "'web_search' is a built-in tool" in made.error
    await run_ceo([look(False), {"text": "ok"}], enable_tool_invocation=False)
    assert "web_search" not in offered[False] and "create_tool" in offered[False]


async def test_ddgs_cannot_leave_this_machine_in_tests() -> None:
    """The guard in tests/conftest.py: ddgs's Rust client is refused any host but loopback."""
    refused_connections.clear()
    config = SearchConfig.from_settings(Settings.load(web_search_backend="ddgs"))
    with pytest.raises(ToolFailure):
        await search("python", 3, config)
    assert refused_connections and all("127.0.0.1" not in str(a) for a in refused_connections)
    refused_connections.clear()
