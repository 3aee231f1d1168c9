"""fetch_url: read a web page as text without letting a model reach private networks (SSRF).

The defence has three parts.

1. Only http and https URLs are fetched.
2. The host is resolved once, with getaddrinfo in a thread (the module-level `resolve`, which
   tests replace), and every address it resolves to must be public: loopback, private,
   link-local, multicast, reserved, unspecified and other non-global addresses are refused, IPv4
   and IPv6 alike, and an IPv4 address inside an IPv6 one (IPv4-mapped, 6to4, NAT64) is judged as
   IPv4. `FetchConfig.allow_private` (the setting `fetch_allow_private`) lifts this check, for
   users who mean it.
3. The connection goes to the address that was vetted, never to a fresh lookup, so a DNS answer
   that changes between check and use (DNS rebinding) cannot steer it: the request URL carries
   the IP, the Host header carries the name, and for https the `sni_hostname` request extension
   makes httpcore send the name as SNI and verify the certificate against the name, exactly as
   an ordinary request to the name would. Each hop gets a fresh client, so a TLS connection
   verified for one name is never reused for another; the explicit transport keeps environment
   proxies (which would resolve names themselves) out, while SSL_CERT_FILE is still honoured.

Redirects are followed by hand, at most MAX_REDIRECTS, and every hop is vetted like the first.
The whole fetch is bounded by the config's `timeout`, and the body by its `max_bytes` while it
streams.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Annotated, Any

import httpx
from pydantic import Field

from hashiru.settings import Settings
from hashiru.tools.base import Tool, ToolFailure, tool

MAX_REDIRECTS = 5
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-ndjson",
        "application/sql",
    }
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HEADERS = {
    "User-Agent": "Mozilla/5.0 (compatible; HASHIRU fetch_url)",
    "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
    # Uncompressed, so fetch_max_bytes bounds what arrives and no small body inflates in memory.
    "Accept-Encoding": "identity",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


@dataclass(frozen=True)
class FetchConfig:
    """What fetch_url may reach and how much it reads."""

    allow_private: bool  # loopback, private and other non-public addresses too
    max_bytes: int  # of a body; the rest is cut off
    timeout: float  # seconds for the whole fetch, redirects included

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchConfig:
        """The fetch_* settings."""
        return cls(
            allow_private=settings.fetch_allow_private,
            max_bytes=settings.fetch_max_bytes,
            timeout=settings.fetch_timeout,
        )


def web_tools(config: FetchConfig) -> list[Tool]:
    """fetch_url, bounded by `config`."""

    async def fetch_url(
        url: Annotated[str, Field(description="An http:// or https:// address")],
    ) -> dict[str, Any]:
        """Fetch a public web page or text file and return its readable text.

        HTML comes back as its title and visible text; other text as is; binary types are
        refused. A 4xx or 5xx answer is returned with its status, not raised.
        """
        return await fetch(url, config)

    return [tool(fetch_url)]


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in getaddrinfo's order. Tests replace this function."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why `address` is no public address to fetch from ("loopback", ...), or None if it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        problem = address_problem(str(embedded)) if embedded else None
        if problem:
            return f"{problem} (IPv4 {embedded} inside IPv6)"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, flagged in checks:
        if flagged:
            return name
    return None if ip.is_global else "non-public"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def pinned_request(url: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict]:
    """URL, headers and extensions that reach `url`'s server at `address` and nowhere else.

    The IP goes in the URL (so nothing resolves the name again), the name in the Host header,
    and for https in the SNI, which httpcore also verifies the certificate against.
    """
    headers = {"Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    return url.copy_with(host=address), headers, extensions


async def fetch(raw_url: str, config: FetchConfig) -> dict[str, Any]:
    """fetch_url's work: vet, connect to the vetted address, follow redirects, extract text."""
    try:
        url = httpx.URL(raw_url.strip())
    except httpx.InvalidURL as exc:
        raise ToolFailure(f"{raw_url!r} is not a valid URL: {exc}") from None
    try:
        async with asyncio.timeout(config.timeout):
            return await _follow(url, config)
    except (TimeoutError, httpx.TimeoutException):
        raise ToolFailure(
            f"fetching {url} took longer than {config.timeout:g} s (the setting fetch_timeout)."
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ToolFailure(f"fetching {url} failed: {exc}") from None


async def _follow(url: httpx.URL, config: FetchConfig) -> dict[str, Any]:
    start = url
    for _hop in range(MAX_REDIRECTS + 1):
        addresses = await _vetted_addresses(url, config.allow_private)
        async with _open(url, addresses, config.timeout) as response:
            location = response.headers.get("location")
            if response.status_code not in _REDIRECT_CODES or not location:
                return await _read(url, response, config.max_bytes)
        try:
            url = url.join(location)
        except httpx.InvalidURL as exc:
            raise ToolFailure(f"{url} redirected to an invalid URL {location!r}: {exc}") from None
    raise ToolFailure(f"{start} redirected more than {MAX_REDIRECTS} times; stopped at {url}.")


async def _vetted_addresses(url: httpx.URL, allow_private: bool) -> list[str]:
    """The addresses to connect to for `url`; refuse bad schemes and non-public addresses."""
    if url.scheme not in ("http", "https"):
        shown = f"{url.scheme}:" if url.scheme else "no scheme"
        raise ToolFailure(f"fetch_url fetches only http:// and https:// URLs, not {shown} ({url}).")
    if not url.host:
        raise ToolFailure(f"{url} has no host name.")
    addresses, named = await _addresses(url)
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise ToolFailure(
                    f"refused {url}: {named}{address}, a {problem} address. fetch_url reaches "
                    "only public addresses unless the setting fetch_allow_private is on "
                    "(HASHIRU_FETCH_ALLOW_PRIVATE=true)."
                )
    return addresses


async def _addresses(url: httpx.URL) -> tuple[list[str], str]:
    """The host's addresses, and how a refusal should name them."""
    try:
        return [str(ipaddress.ip_address(url.host))], ""
    except ValueError:
        pass  # a name, not an address
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await resolve(url.raw_host.decode("ascii"), port)
    except (OSError, UnicodeError) as exc:
        raise ToolFailure(f"cannot resolve the host {url.host}: {exc}") from None
    if not addresses:
        raise ToolFailure(f"cannot resolve the host {url.host}: no addresses.")
    return addresses, f"{url.host} resolves to "


@asynccontextmanager
async def _open(
    url: httpx.URL, addresses: list[str], seconds: float
) -> AsyncIterator[httpx.Response]:
    """A streamed GET of `url` from the first of `addresses` that accepts the connection."""
    transport = httpx.AsyncHTTPTransport()  # explicit: no proxies from the environment
    timeout = httpx.Timeout(seconds)
    async with httpx.AsyncClient(transport=transport, timeout=timeout, headers=_HEADERS) as client:
        failure: httpx.ConnectError | None = None
        for address in addresses:
            target, headers, extensions = pinned_request(url, address)
            request = client.build_request("GET", target, headers=headers, extensions=extensions)
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc
                continue
            try:
                yield response
            finally:
                await response.aclose()
            return
        raise ToolFailure(f"could not connect to {url.host} for {url}: {failure}")


async def _read(url: httpx.URL, response: httpx.Response, max_bytes: int) -> dict[str, Any]:
    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = _kind(mime)
    if kind == "binary":
        raise ToolFailure(_binary(url, mime, response.status_code))
    body = bytearray()
    truncated = False
    async for chunk in response.aiter_bytes():
        room = max_bytes - len(body)
        if len(chunk) > room:
            body += chunk[:room]
            truncated = True
            break
        body += chunk
    if kind == "unknown":
        kind = _sniff(bytes(body[:1024]))
        if kind == "binary":
            raise ToolFailure(_binary(url, "content with no type", response.status_code))
    text = bytes(body).decode(_charset(response, body, kind), errors="replace")
    result: dict[str, Any] = {"url": str(url), "status": response.status_code}
    result["content_type"] = mime or None
    if kind == "html":
        result["title"], text = html_to_text(text)
    return result | {"text": text, "truncated": truncated}


def _kind(mime: str) -> str:
    if not mime:
        return "unknown"
    if mime in _HTML_TYPES:
        return "html"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml")):
        return "text"
    return "binary"


def _sniff(head: bytes) -> str:
    if b"\x00" in head:
        return "binary"
    start = head.lstrip().lower()
    return "html" if start.startswith((b"<!doctype html", b"<html")) else "text"


def _binary(url: httpx.URL, what: str, status: int) -> str:
    return f"{url} returned {what} (HTTP {status}), which is binary; fetch_url reads only text."


def _charset(response: httpx.Response, body: bytearray, kind: str) -> str:
    charset = response.charset_encoding
    if not charset and kind == "html":
        found = _META_CHARSET.search(body[:4096])
        charset = found.group(1).decode("ascii") if found else None
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"


# HTML to text ---------------------------------------------------------------------------------

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"}
    | {"footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav"}
    | {"ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"}
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag == "title" and not self._skipping and not self.title:
            self._in_title = True
        elif tag in _BLOCKS:
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCKS:
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:  # a line break in the source is only a space; blocks make lines
            (self.title if self._in_title else self.text).append(" ".join(data.split("\n")))


def html_to_text(html: str) -> tuple[str | None, str]:
    """An HTML page's title and visible text: no scripts or styles, one line per block."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    title = " ".join("".join(parser.title).split()) or None
    lines = (" ".join(line.split()) for line in "".join(parser.text).split("\n"))
    return title, "\n".join(line for line in lines if line)
