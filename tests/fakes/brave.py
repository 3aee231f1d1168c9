"""A fake Brave Search API: `GET /res/v1/web/search` with the real response and error shapes.

It holds requests to the API's rules: the `X-Subscription-Token` header must be `key` (else
422 SUBSCRIPTION_TOKEN_INVALID) and `count` at most 20 (else 422). `hits` maps a query to its
results (title, url, description: give it as Brave sends it, `<strong>` around matched words);
with none, the reply has no `web` section, as Brave's has not. `failure` is
served instead of any answer after `delay` seconds; `rate_limited()` makes the real 429.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from tests.fakes.server import FakeServer, Recorded, Reply

PATH = "/res/v1/web/search"


def hit(title: str, url: str, description: str) -> dict[str, str]:
    return {"title": title, "url": url, "description": description}


def error(status: int, code: str, detail: str, component: str) -> Reply:
    """An error reply in Brave's shape."""
    body = {
        "type": "ErrorResponse",
        "error": {
            "id": "6b4c1b6e-0000-4000-8000-000000000000",
            "status": status,
            "code": code,
            "detail": detail,
            "meta": {"component": component},
        },
        "time": 1767225600,
    }
    return Reply(status=status, body=body)


def rate_limited() -> Reply:
    """The 429 of a Free plan's 1 request per second; Brave says when in X-RateLimit-Reset."""
    reply = error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.", "rate_limiter")
    reply.headers = {
        "X-RateLimit-Limit": "1, 2000",
        "X-RateLimit-Policy": "1;w=1, 2000;w=2592000",
        "X-RateLimit-Remaining": "0, 1987",
        "X-RateLimit-Reset": "1, 1419704",
    }
    return reply


class FakeBrave(FakeServer):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.hits: dict[str, list[dict[str, str]]] = {}
        self.failure: Reply | None = None
        self.delay = 0.0

    @property
    def endpoint(self) -> str:
        """What the real API's URL is for code under test: https://api.search.brave.com + PATH."""
        return self.url + PATH

    def handle(self, request: Recorded) -> Reply:
        if (request.method, request.path) != ("GET", PATH):
            return error(404, "NOT_FOUND", "Resource not found.", "routing")
        time.sleep(self.delay)
        if self.failure:
            return self.failure
        if request.headers.get("x-subscription-token") != self.key:
            detail = "The provided subscription token is invalid."
            return error(422, "SUBSCRIPTION_TOKEN_INVALID", detail, "authentication")
        query = request.query.get("q", [""])[0]
        count = int(request.query.get("count", ["20"])[0])
        if not 1 <= count <= 20:
            return error(422, "VALIDATION", "count: must be between 1 and 20", "validation")
        results = [_result(h) for h in self.hits.get(query, [])[:count]]
        body: dict[str, Any] = {
            "type": "search",
            "query": {"original": query, "show_strict_warning": False, "is_navigational": False},
            "mixed": {
                "type": "mixed",
                "main": [{"type": "web", "index": i} for i in range(len(results))],
            },
        }
        if results:
            body["web"] = {"type": "search", "results": results, "family_friendly": True}
        return Reply(body=body)


def _result(hit: dict[str, str]) -> dict[str, Any]:
    """One web result with the keys Brave gives."""
    host = urlparse(hit["url"]).netloc
    return {
        "type": "search_result",
        "title": hit["title"],
        "url": hit["url"],
        "is_source_local": False,
        "is_source_both": False,
        "description": hit["description"],
        "language": "en",
        "family_friendly": True,
        "profile": {"name": host, "url": hit["url"], "long_name": host, "img": ""},
        "meta_url": {"scheme": "https", "netloc": host, "hostname": host, "path": ""},
    }
