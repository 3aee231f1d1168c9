"""fetch_url against a local server: text extraction, limits, and the anti-SSRF checks.

Nothing here reaches the internet. Fake public names are mapped by replacing `web.resolve`;
where a test needs a "public" address that is really the local server, `nat` rewrites the
socket's connect (on top of the conftest guard), which also records where connections went.
"""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hashiru.settings import Settings
from hashiru.tools import ToolFailure, web
from hashiru.tools.web import FetchConfig, address_problem, fetch, html_to_text, web_tools

PUBLIC_IP = "93.184.215.14"  # a global address; `nat` sends its connections to 127.0.0.1

PAGE = b"""<!DOCTYPE html>
<html><head><title> The  Test
Page </title>
<style>body { color: red }</style>
<script>var secret = "do not show";</script>
</head><body>
<h1>Hello &amp; welcome</h1>
<p>First   paragraph,
 spread over lines.</p>
<noscript>enable javascript</noscript>
<ul><li>one</li><li>two</li></ul>
<script type="application/ld+json">{"hidden": true}</script>
</body></html>"""

STALL = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path
        if path == "/page":
            self.reply(200, "text/html; charset=utf-8", PAGE)
        elif path == "/text":
            self.reply(200, "text/plain", b"  keep   this\n\nas is  \n")
        elif path == "/latin1":
            self.reply(200, "text/html; charset=iso-8859-1", "<p>café</p>".encode("latin-1"))
        elif path == "/meta-charset":
            self.reply(200, "text/html", '<meta charset="latin-1"><p>naïve</p>'.encode("latin-1"))
        elif path.startswith("/r/"):
            left = int(path.removeprefix("/r/"))
            self.redirect(f"/r/{left - 1}" if left > 1 else "/page")
        elif path == "/to-loopback":
            self.redirect(f"http://127.0.0.1:{self.server.server_port}/page")
        elif path == "/to-intranet":
            self.redirect("http://intranet.test/admin")
        elif path == "/to-file":
            self.redirect("file:///etc/passwd")
        elif path == "/big":
            self.reply(200, "text/plain", b"x" * 5000)
        elif path == "/image":
            self.reply(200, "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        elif path == "/untyped":
            self.reply(200, None, b"\x00\x01\x02binary")
        elif path == "/host":
            self.reply(200, "text/plain", self.headers["Host"].encode())
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            STALL.wait(5)
        else:
            self.reply(404, "text/html", b"<title>Not found</title><p>nothing here</p>")

    def reply(self, status: int, content_type: str | None, body: bytes) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that rejects our certificate is expected in one test


def serve(wrap: Callable[[ThreadingHTTPServer], None] | None = None) -> Iterator[int]:
    STALL.clear()
    server = QuietServer(("127.0.0.1", 0), Handler)
    if wrap:
        wrap(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server.server_port
    STALL.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def port() -> Iterator[int]:
    yield from serve()


class FakeDNS(dict[str, list[str]]):
    """Names set here resolve offline, others fail; `lookups` records every question."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self:
            raise OSError(f"unknown test host {host}")
        return self[host]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS()
    monkeypatch.setattr(web, "resolve", dns.resolve)
    return dns


@pytest.fixture
def nat(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Connections to PUBLIC_IP reach 127.0.0.1 instead; returns every address connected to."""
    import socket

    guarded = socket.socket.connect
    seen: list[tuple[str, int]] = []

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address[:2])
        if address[0] == PUBLIC_IP:
            address = ("127.0.0.1", address[1])
        return guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def settings(tmp_path: Path, **values: Any) -> FetchConfig:
    return FetchConfig.from_settings(Settings(home=tmp_path / "home", **values))


@pytest.fixture
def open_settings(tmp_path: Path) -> FetchConfig:
    return settings(tmp_path, fetch_allow_private=True)


# Refusals -----------------------------------------------------------------------------------


async def test_default_settings_refuse_loopback_and_name_the_setting(tmp_path, port) -> None:
    with pytest.raises(ToolFailure) as caught:
        await fetch(f"http://127.0.0.1:{port}/page", settings(tmp_path))
    message = str(caught.value)
    assert "loopback" in message and "fetch_allow_private" in message


async def test_localhost_is_refused_after_resolving(tmp_path, port) -> None:
    with pytest.raises(ToolFailure, match=r"localhost resolves to .*loopback"):
        await fetch(f"http://localhost:{port}/page", settings(tmp_path))


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::]/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "https://[2002:7f00:1::]/",
    ],
)
async def test_non_public_addresses_are_refused(tmp_path, nat, url: str) -> None:
    with pytest.raises(ToolFailure, match=r"refused .*fetch_allow_private"):
        await fetch(url, settings(tmp_path))
    assert nat == [], "nothing was connected to"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("::ffff:192.168.0.1", "private (IPv4 192.168.0.1 inside IPv6)"),
        ("2002:a00:1::", "private (IPv4 10.0.0.1 inside IPv6)"),
        ("64:ff9b::a9fe:a9fe", "link-local (IPv4 169.254.169.254 inside IPv6)"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("239.1.2.3", "multicast"),
        ("ff02::1", "multicast"),
        ("10.1.2.3", "private"),
        ("fd12::1", "private"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "example.com"]
)
async def test_other_schemes_are_refused(open_settings, nat, url: str) -> None:
    with pytest.raises(ToolFailure, match=r"only http:// and https://"):
        await fetch(url, open_settings)
    assert nat == []


async def test_redirect_from_public_to_loopback_is_refused(tmp_path, port, names, nat) -> None:
    names["public.test"] = [PUBLIC_IP]
    with pytest.raises(ToolFailure) as caught:
        await fetch(f"http://public.test:{port}/to-loopback", settings(tmp_path))
    message = str(caught.value)
    assert f"refused http://127.0.0.1:{port}/page" in message and "loopback" in message
    assert nat == [(PUBLIC_IP, port)], "only the public first hop was connected to"


async def test_redirect_to_a_name_with_a_private_address_is_refused(
    tmp_path, port, names, nat
) -> None:
    names["public.test"] = [PUBLIC_IP]
    names["intranet.test"] = ["10.9.8.7"]
    with pytest.raises(ToolFailure, match=r"intranet\.test resolves to 10\.9\.8\.7, a private"):
        await fetch(f"http://public.test:{port}/to-intranet", settings(tmp_path))
    assert nat == [(PUBLIC_IP, port)]


async def test_redirect_to_another_scheme_is_refused(open_settings, port) -> None:
    with pytest.raises(ToolFailure, match="not file:"):
        await fetch(f"http://127.0.0.1:{port}/to-file", open_settings)


async def test_a_name_with_any_private_address_is_refused(tmp_path, names, nat) -> None:
    names["mixed.test"] = [PUBLIC_IP, "127.0.0.1"]
    with pytest.raises(ToolFailure, match=r"mixed\.test resolves to 127\.0\.0\.1, a loopback"):
        await fetch("http://mixed.test/", settings(tmp_path))
    assert nat == []


async def test_connects_to_the_vetted_address_not_a_second_lookup(
    tmp_path, port, names, nat, monkeypatch
) -> None:
    """DNS rebinding: the name is looked up once, and the connection goes to that address."""
    import socket

    def no_system_dns(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the name was resolved again: {args}")

    names["rebind.test"] = [PUBLIC_IP]
    monkeypatch.setattr(socket, "getaddrinfo", no_system_dns)
    result = await fetch(f"http://rebind.test:{port}/host", settings(tmp_path))
    assert result["text"] == f"rebind.test:{port}", "the Host header carries the name"
    assert result["url"] == f"http://rebind.test:{port}/host"
    assert names.lookups == ["rebind.test"]
    assert nat == [(PUBLIC_IP, port)]


async def test_the_next_vetted_address_is_tried_when_one_refuses(
    open_settings, port, names, nat
) -> None:
    names["two.test"] = ["127.0.0.3", "127.0.0.1"]
    result = await fetch(f"http://two.test:{port}/text", open_settings)
    assert result["status"] == 200
    assert [address for address, _ in nat] == ["127.0.0.3", "127.0.0.1"]


async def test_an_unknown_host_is_a_clear_failure(open_settings, names) -> None:
    with pytest.raises(ToolFailure, match=r"cannot resolve the host nowhere\.test"):
        await fetch("http://nowhere.test/", open_settings)


# Fetching -----------------------------------------------------------------------------------


async def test_html_becomes_title_and_visible_text(open_settings, port) -> None:
    result = await fetch(f"http://127.0.0.1:{port}/page", open_settings)
    assert result == {
        "url": f"http://127.0.0.1:{port}/page",
        "status": 200,
        "content_type": "text/html",
        "title": "The Test Page",
        "text": "Hello & welcome\nFirst paragraph, spread over lines.\none\ntwo",
        "truncated": False,
    }


async def test_plain_text_is_returned_as_is(open_settings, port) -> None:
    result = await fetch(f"http://127.0.0.1:{port}/text", open_settings)
    assert result["text"] == "  keep   this\n\nas is  \n"
    assert result["content_type"] == "text/plain" and "title" not in result


async def test_declared_charsets_are_honoured(open_settings, port) -> None:
    header = await fetch(f"http://127.0.0.1:{port}/latin1", open_settings)
    meta = await fetch(f"http://127.0.0.1:{port}/meta-charset", open_settings)
    assert header["text"] == "café" and meta["text"] == "naïve"


async def test_redirects_are_followed_up_to_five(open_settings, port) -> None:
    result = await fetch(f"http://127.0.0.1:{port}/r/5", open_settings)
    assert result["url"] == f"http://127.0.0.1:{port}/page"
    assert result["title"] == "The Test Page"
    with pytest.raises(ToolFailure, match="redirected more than 5 times"):
        await fetch(f"http://127.0.0.1:{port}/r/6", open_settings)


async def test_a_large_body_is_truncated_at_fetch_max_bytes(tmp_path, port) -> None:
    small = settings(tmp_path, fetch_allow_private=True, fetch_max_bytes=1024)
    result = await fetch(f"http://127.0.0.1:{port}/big", small)
    assert result["truncated"] is True and result["text"] == "x" * 1024


@pytest.mark.parametrize(("path", "what"), [("/image", "image/png"), ("/untyped", "no type")])
async def test_binary_content_is_refused(open_settings, port, path: str, what: str) -> None:
    with pytest.raises(ToolFailure, match=f"{what}.*binary"):
        await fetch(f"http://127.0.0.1:{port}{path}", open_settings)


async def test_an_error_status_is_returned_not_raised(open_settings, port) -> None:
    result = await fetch(f"http://127.0.0.1:{port}/missing", open_settings)
    assert result["status"] == 404 and result["title"] == "Not found"
    assert result["text"] == "nothing here"


async def test_fetch_timeout_bounds_the_whole_fetch(tmp_path, port) -> None:
    quick = settings(tmp_path, fetch_allow_private=True, fetch_timeout=0.3)
    with pytest.raises(ToolFailure, match=r"longer than 0.3 s \(the setting fetch_timeout\)"):
        await fetch(f"http://127.0.0.1:{port}/stall", quick)


async def test_a_closed_port_is_a_clear_failure(open_settings) -> None:
    with pytest.raises(ToolFailure, match=r"could not connect to 127\.0\.0\.1"):
        await fetch("http://127.0.0.1:9/", open_settings)


async def test_the_tool_wraps_fetch(open_settings, port) -> None:
    [fetch_url] = web_tools(open_settings)
    assert fetch_url.name == "fetch_url" and fetch_url.parameters["required"] == ["url"]
    assert fetch_url.description.startswith("Fetch a public web page")
    result = await fetch_url.call({"url": f"http://127.0.0.1:{port}/text"})
    assert result["status"] == 200


def test_html_to_text_without_a_title() -> None:
    html = "<div>a<b>b</b></div><svg><title>icon</title></svg><pre>x  y</pre>&nbsp;"
    assert html_to_text(html) == (None, "ab\nx y")


# TLS: the request goes to the IP, yet SNI and certificate checks use the name -----------------


def _certificates(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a leaf certificate for `name` signed by it: (ca.pem, leaf.pem, leaf.key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
            )
        )
        if ca:
            usage = dict.fromkeys(
                ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"),
                False,
            )
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                    **usage,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
            ).add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = build("Test CA", ca_key, "Test CA", ca_key, ca=True)
    leaf = build(name, leaf_key, "Test CA", ca_key, ca=False)
    paths = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    ca, leaf, key = _certificates(tmp_path, "public.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf, key)

    def wrap(server: ThreadingHTTPServer) -> None:
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )

    yield from serve(wrap)


async def test_https_verifies_the_certificate_against_the_name(
    tmp_path, tls_port, names, nat
) -> None:
    names["public.test"] = [PUBLIC_IP]
    result = await fetch(f"https://public.test:{tls_port}/host", settings(tmp_path))
    assert result["text"] == f"public.test:{tls_port}"
    assert nat == [(PUBLIC_IP, tls_port)]


async def test_https_refuses_a_certificate_for_another_name(tmp_path, tls_port, names, nat) -> None:
    names["other.test"] = [PUBLIC_IP]
    names["public.test"] = [PUBLIC_IP]
    with pytest.raises(ToolFailure, match=r"could not connect.*(certificate|hostname)"):
        await fetch(f"https://other.test:{tls_port}/host", settings(tmp_path))
