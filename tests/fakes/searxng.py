"""A fake SearXNG instance: `/search` answers `format=json` as SearXNG does, with its real keys.

`hits` maps a query to its results (title, url, content); a query not there finds nothing.
Like SearXNG, a format not listed in `formats` (json is off by default in settings.yml) is
refused with 403. `failure` is served instead of any answer (an error status, garbage), after
`delay` seconds.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from tests.fakes.server import FakeServer, Recorded, Reply


def hit(title: str, url: str, content: str) -> dict[str, str]:
    return {"title": title, "url": url, "content": content}


class FakeSearxng(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.hits: dict[str, list[dict[str, str]]] = {}
        self.formats = ("html", "json")
        self.failure: Reply | None = None
        self.delay = 0.0

    def handle(self, request: Recorded) -> Reply:
        if (request.method, request.path) != ("GET", "/search"):
            return Reply(status=404, content_type="text/html", chunks=[b"<h1>Not Found</h1>"])
        time.sleep(self.delay)
        if self.failure:
            return self.failure
        query = request.query.get("q", [""])[0]
        form = request.query.get("format", ["html"])[0]
        if form not in self.formats:
            return Reply(status=403, content_type="text/html", chunks=[b"<h1>Forbidden</h1>"])
        if form != "json":
            return Reply(content_type="text/html", chunks=[b"<html>results</html>"])
        results = [_result(h, rank) for rank, h in enumerate(self.hits.get(query, []), 1)]
        return Reply(body=_page(query, results))


def _result(hit: dict[str, str], rank: int) -> dict[str, Any]:
    """One result with every key SearXNG's JSON gives a web hit."""
    parts = urlparse(hit["url"])
    return {
        **hit,
        "publishedDate": None,
        "thumbnail": "",
        "engine": "duckduckgo",
        "template": "default.html",
        "parsed_url": [parts.scheme, parts.netloc, parts.path, parts.params, parts.query, ""],
        "img_src": "",
        "priority": "",
        "engines": ["duckduckgo", "brave"],
        "positions": [rank, rank],
        "score": 4.0 / rank,
        "category": "general",
    }


def _page(query: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "query": query,
        "number_of_results": 0,
        "results": results,
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": [f"{query} tutorial"],
        "unresponsive_engines": [],
    }
