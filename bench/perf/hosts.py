"""Print what models served elsewhere cost HASHIRU: a pool of Ollama hosts, and an endpoint.

    python -m bench.perf.hosts [--hosts 3] [--models 50] [--repeat 10] [--tokens 500]

The servers are this file's own, in a process of their own (`--serve`: serving does not share
an interpreter with what is measured): `--hosts` Ollama hosts speaking Ollama's API (/api/tags,
/api/show) over `--models` models of varied sizes, each on one to all of the hosts, and one
OpenAI-compatible server streaming a reply of `--tokens` tokens, one SSE event a token, as vLLM
and llama.cpp's server do.

Hosts: a workspace in a temporary HASHIRU_HOME with `ollama_hosts` (a memory budget each) times
the merged listing of the pool, the models a hire may use (every backend surveyed), a hire
end to end (the model described on every host, then the ledger's atomic choice of host, then
the roster) and firing; and the ledger's `hire` alone, offered every host. Hires are drawn at
random (3 per `--repeat`, a few models far likelier than the rest); when one no longer fits,
the oldest employee is fired and the hire tried again, so the pool runs full. Every hire is
checked: on a host that serves its model, every budget kept.

Tokens: the same streamed reply read with plain httpx, with the official `openai` client (the
baseline: what the endpoint gives any client), through HASHIRU's endpoint model, and through a
metered one (the ledger's hold before the call and its settlement after). Tokens/s is the rate
between the first and the last token; what HASHIRU adds is split into a cost per request (to the
first token, and after the last) and one per token.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
from rich.console import Console, Group
from rich.table import Table

from hashiru import (
    BudgetExceeded,
    BudgetState,
    Hashiru,
    Ledger,
    Message,
    Placement,
    Settings,
    TextDelta,
)

ROOT = Path(__file__).resolve().parents[2]
GIB = 1024**3
HOST_GIB = (24, 16, 32)  # each host's memory budget, in turn
CHAT_MODEL = "bench-chat"
LOCAL_USD_PER_HOUR = Decimal("1.00")  # so a metered local call has a cost in the ledger
SEED = 0
HIRES_PER_REPEAT = 3  # enough hires to fill the pool, so some fit only once another is fired
API_KEY = "bench"
# The ways of reading the streamed reply; the openai client's is the baseline.
HTTPX, SDK, MODEL, METERED = "httpx, SSE lines", "openai client", "HASHIRU model", "HASHIRU metered"


# --- the servers (run with --serve, in a process of their own) ---------------------------------


def ollama_entry(name: str, size: int) -> dict[str, Any]:
    """A model as Ollama's /api/tags lists it."""
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": size,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {"format": "gguf", "family": "llama", "parameter_size": "3B"},
    }


def ollama_show(name: str) -> dict[str, Any]:
    """Ollama's /api/show of a model (no shape keys: its memory is its weights)."""
    return {
        "modelfile": f"FROM {name}\n",
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "llama", "parameter_size": "3B"},
        "model_info": {"general.architecture": "llama", "llama.context_length": 32_768},
        "capabilities": ["completion", "tools"],
    }


def chat_events(tokens: int) -> list[bytes]:
    """A streamed Chat Completion, one SSE event a token, then the usage event and [DONE]."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0}
    head["model"] = CHAT_MODEL

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + json.dumps({**head, "choices": [choice]}).encode() + b"\n\n"

    usage = {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens}
    return [
        event({"role": "assistant", "content": ""}),
        *[event({"content": " tok"})] * tokens,
        event({}, "stop"),
        b"data: " + json.dumps({**head, "choices": [], "usage": usage}).encode() + b"\n\n",
        b"data: [DONE]\n\n",
    ]


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as the real servers; each subclass routes its own paths."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one small write per token, sent at once

    def log_message(self, *args: object) -> None:
        pass

    def body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def reply(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def stream(self, events: list[bytes]) -> None:
        """Each event its own HTTP chunk and its own write, as a server emitting tokens."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for data in events:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")


def ollama_handler(models: dict[str, int]) -> type[Handler]:
    class Ollama(Handler):
        def do_GET(self) -> None:
            if self.path == "/api/tags":
                self.reply(200, {"models": [ollama_entry(n, s) for n, s in models.items()]})
            else:
                self.reply(404, {"error": "404 page not found"})

        def do_POST(self) -> None:
            name = self.body().get("model", "") if self.path == "/api/show" else None
            if name in models:
                self.reply(200, ollama_show(name))
            elif name is not None:
                self.reply(404, {"error": f"model '{name}' not found"})
            else:
                self.reply(404, {"error": "404 page not found"})

    return Ollama


def openai_handler(tokens: int) -> type[Handler]:
    events = chat_events(tokens)

    class OpenAICompatible(Handler):
        def do_GET(self) -> None:
            if self.path == "/v1/models":
                found = {"id": CHAT_MODEL, "object": "model", "created": 0, "owned_by": "bench"}
                self.reply(200, {"object": "list", "data": [found]})
            else:
                self.reply(404, {"error": {"message": f"no route {self.path}", "type": "nf"}})

        def do_POST(self) -> None:
            body = self.body()
            if self.path != "/v1/chat/completions" or not body.get("stream"):
                error = {"message": "this server only streams chat completions", "type": "bad"}
                self.reply(400, {"error": error})
            else:
                self.stream(events)

    return OpenAICompatible


def serve(spec: dict[str, Any]) -> None:
    """Start every server of `spec`, print `READY {"hosts": [...], "endpoint": url}`, and wait."""
    handlers = [ollama_handler(models) for models in spec["hosts"]]
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), h) for h in handlers]
    servers.append(ThreadingHTTPServer(("127.0.0.1", 0), openai_handler(spec["tokens"])))
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    urls = [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    print("READY " + json.dumps({"hosts": urls[:-1], "endpoint": urls[-1]}), flush=True)
    threading.Event().wait()


# --- the pool, and the servers' process --------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """The models each host serves ({name: bytes}) and each host's memory budget in GiB, in
    the pool's order."""

    served: list[dict[str, int]]
    memory_gib: list[int]

    @property
    def models(self) -> dict[str, int]:
        return {name: size for host in self.served for name, size in host.items()}


def make_pool(hosts: int, models: int, seed: int = SEED) -> Pool:
    """`models` models from 0.4 to 9 GiB, each on one host in turn and on each other host with
    a chance of 0.4, so most are on one host and some on several."""
    rng = random.Random(seed)
    served: list[dict[str, int]] = [{} for _ in range(hosts)]
    for i in range(models):
        name, size = f"bench{i:02d}:{rng.choice((1, 3, 7, 8))}b", int(rng.uniform(0.4, 9) * GIB)
        for host in range(hosts):
            if host == i % hosts or rng.random() < 0.4:
                served[host][name] = size
    return Pool(served, [HOST_GIB[i % len(HOST_GIB)] for i in range(hosts)])


@contextmanager
def servers(pool: Pool, tokens: int) -> Iterator[dict[str, Any]]:
    """The servers' process for as long as the block runs; yields their URLs."""
    spec = json.dumps({"hosts": pool.served, "tokens": tokens})
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.perf.hosts", "--serve", spec],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the benchmark's servers did not start (said {line!r})")
        yield json.loads(line.removeprefix("READY "))
    finally:
        process.kill()
        process.wait()


# --- timing helpers ----------------------------------------------------------------------------


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def p95(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=20)[18] if len(timings) > 1 else timings[0]


def ms(timings: list[float]) -> str:
    """Median and 95th percentile in milliseconds (microseconds below 0.1 ms)."""
    top = p95(timings)
    scale, unit = (1e6, "µs") if top < 1e-4 else (1e3, "ms")
    return f"{statistics.median(timings) * scale:.2f} {unit} / {top * scale:.2f} {unit}"


# --- hosts: listing and placement --------------------------------------------------------------


@dataclass
class Hiring:
    """What the hires measured, and where they went."""

    hire: list[float] = field(default_factory=list)
    fire: list[float] = field(default_factory=list)
    placed: Counter[str] = field(default_factory=Counter)
    shared: int = 0  # hires placed where their model was loaded already
    refused: int = 0  # hires that fitted nowhere until the oldest employee was fired
    violations: list[str] = field(default_factory=list)  # hires off their model, budgets broken


def pool_workspace(home: Path, pool: Pool, urls: list[str]) -> Hashiru:
    hosts = [{"url": u, "memory_gib": gib} for u, gib in zip(urls, pool.memory_gib, strict=True)]
    settings = Settings.load(
        environ={}, home=home, ollama_hosts=hosts, ollama_pull="never", enable_memory=False
    )
    return Hashiru(settings)


async def listings(
    hashiru: Hashiru, pool: Pool, urls: list[str], repeat: int
) -> tuple[list[float], list[float], list[float]]:
    """Seconds per merged listing of the pool, per survey of the models a hire may use, and
    per the same requests as the listing made with plain httpx (the servers' share). The first
    of each is not counted: it imports the backends' SDKs and opens connections."""
    ollama = await asyncio.to_thread(hashiru.providers.get, "ollama")
    policy = hashiru.policy
    merged = await ollama.list_models()
    if len(merged) != len(pool.models):
        raise RuntimeError(f"the pool lists {len(merged)} models, not {len(pool.models)}")
    await hashiru.company.hireable_models(policy)
    listing = [await timed(ollama.list_models) for _ in range(repeat)]
    hireable = [await timed(lambda: hashiru.company.hireable_models(policy)) for _ in range(repeat)]
    async with httpx.AsyncClient() as client:
        await raw_listing(client, pool, urls)
        raw = [await timed(lambda: raw_listing(client, pool, urls)) for _ in range(repeat)]
    return listing, hireable, raw


async def raw_listing(client: httpx.AsyncClient, pool: Pool, urls: list[str]) -> None:
    """What listing the pool asks of it: each host's tags, then a show of each of its models,
    all hosts at once."""

    async def host(url: str, models: dict[str, int]) -> None:
        (await client.get(url + "/api/tags")).raise_for_status()
        shows = [client.post(url + "/api/show", json={"model": name}) for name in models]
        for reply in await asyncio.gather(*shows):
            reply.raise_for_status()

    await asyncio.gather(*(host(u, m) for u, m in zip(urls, pool.served, strict=True)))


async def hiring(hashiru: Hashiru, pool: Pool, urls: list[str], hires: int) -> Hiring:
    """`hires` hires on random models (some far likelier than others), firing the oldest
    employee whenever one fits nowhere; then every employee fired."""
    rng = random.Random(SEED)
    names = sorted(pool.models)
    rng.shuffle(names)
    popularity = [1 / rank for rank in range(1, len(names) + 1)]  # a few models hired often
    serves = {url: set(models) for url, models in zip(urls, pool.served, strict=True)}
    meter, company, result = hashiru.meter("bench-hosts"), hashiru.company, Hiring()
    team: deque[str] = deque()

    async def fire_oldest() -> None:
        name = team.popleft()
        result.fire.append(await timed(lambda: company.fire(meter.run_id, name)))

    for number in range(hires):
        [model], name = rng.choices(names, popularity), f"e{number}"
        while True:
            before = await asyncio.to_thread(hashiru.ledger.state)
            try:
                started = time.perf_counter()
                hire = await company.hire(meter, name, f"ollama:{model}", "bench", "bench")
                result.hire.append(time.perf_counter() - started)
                break
            except BudgetExceeded:
                if not team:
                    raise
                result.refused += 1
                await fire_oldest()
        team.append(name)
        after = await asyncio.to_thread(hashiru.ledger.state)
        check(result, name, model, hire.employee.host, (before, after), serves[hire.employee.host])
    while team:
        await fire_oldest()
    return result


def check(
    result: Hiring,
    name: str,
    model: str,
    host: str,
    states: tuple[BudgetState, BudgetState],
    served: set[str],
) -> None:
    """Count where a hire went, and note it when off its model's hosts or over a budget."""
    before, after = states
    result.placed[host] += 1
    result.shared += f"ollama:{model}" in before.loaded.get(host, {})
    if model not in served:
        result.violations.append(f"{name} placed on {host}, which does not serve {model}")
    for where, budget in after.budgets.items():
        if budget.used_bytes > budget.total_bytes:
            result.violations.append(f"after {name}: {where or 'this machine'} over budget")


def ledger_alone(path: Path, pool: Pool, urls: list[str], repeat: int) -> Hiring:
    """The ledger's `hire` offered every host, then `fire`, `repeat` times, on its own."""
    budgets = {url: gib * GIB for url, gib in zip(urls, pool.memory_gib, strict=True)}
    ledger = Ledger(path, Decimal(10), 0, host_memory=budgets)
    result, models = Hiring(), sorted(pool.models.items())
    for number in range(repeat):
        model, size = models[number % len(models)]
        offered = [Placement(url, size) for url in urls]
        started = time.perf_counter()
        placed = ledger.hire(
            run_id="bench",
            agent=f"e{number}",
            model=model,
            provider="ollama",
            fee_usd=Decimal(0),
            placements=offered,
        )
        result.hire.append(time.perf_counter() - started)
        result.placed[placed.host] += 1
        started = time.perf_counter()
        ledger.fire(run_id="bench", agent=f"e{number}")
        result.fire.append(time.perf_counter() - started)
    return result


# --- tokens: one streamed reply, read four ways ------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One streamed request: seconds to the first token, to the last, and to the stream's end."""

    first: float
    last: float
    done: float
    tokens: int

    @property
    def rate(self) -> float:
        """Tokens per second between the first token and the last."""
        return (self.tokens - 1) / (self.last - self.first)

    @property
    def around(self) -> float:
        """Seconds before the first token and after the last: what a request costs once."""
        return self.first + self.done - self.last


async def sample(texts: AsyncIterator[str]) -> Sample:
    """Time a stream of token texts (empty ones are not tokens) until it ends."""
    started, first, last, count = time.perf_counter(), 0.0, 0.0, 0
    async for text in texts:
        if text:
            last = time.perf_counter() - started
            first, count = first or last, count + 1
    return Sample(first, last, time.perf_counter() - started, count)


def request(prompt: str) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "messages": [{"role": "user", "content": prompt}]}


async def via_httpx(client: httpx.AsyncClient, prompt: str) -> AsyncIterator[str]:
    body = {**request(prompt), "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", "/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                choices = json.loads(line[6:])["choices"]
                yield choices[0]["delta"].get("content") or "" if choices else ""


async def via_sdk(client: openai.AsyncOpenAI, prompt: str) -> AsyncIterator[str]:
    chunks = await client.chat.completions.create(
        **request(prompt), stream=True, stream_options={"include_usage": True}
    )
    async for chunk in chunks:
        yield chunk.choices[0].delta.content or "" if chunk.choices else ""


async def via_hashiru(model: Any, prompt: str) -> AsyncIterator[str]:
    """A ChatModel's or a MeteredModel's stream; its last item (the response) is no token."""
    async for item in model.stream([Message.user(prompt)]):
        yield item.text if isinstance(item, TextDelta) else ""


Reader = Callable[[str], AsyncIterator[str]]


async def rounds(ways: dict[str, Reader], repeat: int) -> dict[str, list[Sample]]:
    """`repeat` requests each way, after one unmeasured (connections opened, code warmed),
    taken in turns so that a busy machine slows every way alike."""
    for read in ways.values():
        await sample(read("warm up"))
    taken: dict[str, list[Sample]] = {way: [] for way in ways}
    for number in range(repeat):
        for way, read in ways.items():
            taken[way].append(await sample(read(f"request {number}")))
    return taken


@dataclass(frozen=True)
class Streaming:
    """Samples of each way of reading the reply, and the ledger's cost of the metered one."""

    ways: dict[str, list[Sample]]
    usd_per_request: Decimal
    tokens_booked: int  # output tokens the ledger recorded per metered request


async def streaming(home: Path, endpoint: str, repeat: int) -> Streaming:
    # A key, though the server checks none: the openai client refuses to start without one.
    endpoint_table = {"base_url": endpoint + "/v1", "local": True, "api_key_env": "BENCH_KEY"}
    settings = Settings.load(
        environ={"BENCH_KEY": API_KEY},
        home=home,
        endpoints={"bench": endpoint_table},
        local_usd_per_hour=LOCAL_USD_PER_HOUR,
        enable_memory=False,
    )
    hashiru = Hashiru(settings)
    await asyncio.to_thread(hashiru.providers.get, "bench")
    model = hashiru.providers.model(f"bench:{CHAT_MODEL}")
    metered = hashiru.meter("bench-tokens").metered(model, "ceo")
    async with (
        httpx.AsyncClient(base_url=endpoint + "/v1") as raw,
        openai.AsyncOpenAI(api_key=API_KEY, base_url=endpoint + "/v1", max_retries=0) as sdk,
    ):
        readers: dict[str, Reader] = {
            HTTPX: lambda p: via_httpx(raw, p),
            SDK: lambda p: via_sdk(sdk, p),
            MODEL: lambda p: via_hashiru(model, p),
            METERED: lambda p: via_hashiru(metered, p),
        }
        ways = await rounds(readers, repeat)
    settled = [e for e in hashiru.ledger.entries("bench-tokens") if e.kind == "settle"][1:]
    await hashiru.aclose()
    return Streaming(
        ways,
        statistics.median(e.usd or Decimal(0) for e in settled),
        int(statistics.median(e.output_tokens for e in settled)),
    )


# --- the tables --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Everything measured, for the tables and for a test."""

    pool: Pool
    urls: list[str]
    listing: list[float]
    raw_listing: list[float]
    hireable: list[float]
    company: Hiring
    ledger: Hiring
    tokens: int
    stream: Streaming


async def measure(hosts: int, models: int, repeat: int, tokens: int) -> Figures:
    pool = make_pool(hosts, models)
    with servers(pool, tokens) as urls, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hashiru = pool_workspace(root / "pool", pool, urls["hosts"])
        listing, hireable, raw = await listings(hashiru, pool, urls["hosts"], repeat)
        company = await hiring(hashiru, pool, urls["hosts"], HIRES_PER_REPEAT * repeat)
        await hashiru.aclose()
        ledger = ledger_alone(root / "ledger.sqlite", pool, urls["hosts"], repeat)
        stream = await streaming(root / "tokens", urls["endpoint"], repeat)
    return Figures(pool, urls["hosts"], listing, raw, hireable, company, ledger, tokens, stream)


def hosts_table(f: Figures) -> Table:
    title = f"{len(f.urls)} Ollama hosts, {len(f.pool.models)} models"
    table = Table("measure (p50 / p95)", "value", title=title)
    table.add_row("the pool's merged list_models", ms(f.listing))
    table.add_row("  its requests with plain httpx", ms(f.raw_listing))
    table.add_row("hireable_models (all backends)", ms(f.hireable))
    table.add_row("hire: describe on each host, ledger, roster", ms(f.company.hire))
    table.add_row(f"ledger.hire alone, {len(f.urls)} placements", ms(f.ledger.hire))
    table.add_row("fire: roster, ledger", ms(f.company.fire))
    table.add_row("ledger.fire alone", ms(f.ledger.fire))
    for number, (url, gib) in enumerate(zip(f.urls, f.pool.memory_gib, strict=True)):
        served = len(f.pool.served[number])
        label = f"  hires on host {number + 1} ({gib} GiB, {served} models)"
        table.add_row(label, str(f.company.placed[url]))
    hired = len(f.company.hire)
    table.add_row("hires joining their model where loaded", f"{f.company.shared} of {hired}")
    table.add_row("hires that fitted once the oldest was fired", str(f.company.refused))
    table.add_row("on a host serving the model, in budget", verdict(f.company))
    return table


def verdict(hiring: Hiring) -> str:
    return "every hire" if not hiring.violations else "NO: " + "; ".join(hiring.violations[:3])


def tokens_table(f: Figures) -> Table:
    table = Table(
        "read with (p50)",
        "first token",
        "tokens/s",
        "whole request",
        title=f"A reply of {f.tokens:,} tokens streamed {len(f.stream.ways[SDK])} times",
    )
    for way, taken in f.stream.ways.items():
        table.add_row(
            way,
            f"{statistics.median(s.first for s in taken) * 1e3:.2f} ms",
            f"{statistics.median(s.rate for s in taken):,.0f}",
            f"{statistics.median(s.done for s in taken) * 1e3:.2f} ms",
        )
    return table


def overhead_table(f: Figures) -> Table:
    title = "What HASHIRU adds (best against best)"
    table = Table(f"added to the {SDK}", "per request", "per token", title=title)
    for way in (MODEL, METERED):
        per_request, per_token = overhead(f.stream.ways[SDK], f.stream.ways[way])
        table.add_row(way, f"{per_request * 1e3:+.2f} ms", f"{per_token * 1e6:+.2f} µs")
    table.caption = (
        f"the ledger booked {f.stream.tokens_booked:,} output tokens and "
        f"${f.stream.usd_per_request:.8f} a metered request (local, ${LOCAL_USD_PER_HOUR}/h)"
    )
    return table


def overhead(base: list[Sample], other: list[Sample]) -> tuple[float, float]:
    """Seconds `other` adds to `base` per request (before the first token and after the
    last) and per token (between them), best against best: a busy machine only adds time,
    so the fastest of each way is the nearest to its own cost."""
    fixed = min(s.around for s in other) - min(s.around for s in base)
    return fixed, 1 / max(s.rate for s in other) - 1 / max(s.rate for s in base)


def summary(f: Figures) -> str:
    """One paragraph: the figures a reader wants first."""
    hosts, ways = f.company.placed, f.stream.ways
    per_request, per_token = overhead(ways[SDK], ways[METERED])
    kept = "every one" if not f.company.violations else "NOT every one"
    return (
        f"With {len(f.urls)} Ollama hosts and {len(f.pool.models)} models, listing the pool "
        f"takes {statistics.median(f.listing) * 1e3:.1f} ms and a hire "
        f"{statistics.median(f.company.hire) * 1e3:.1f} ms end to end, of which the ledger's "
        f"atomic choice of host is {statistics.median(f.ledger.hire) * 1e3:.2f} ms. "
        f"{len(f.company.hire)} hires went {', '.join(str(hosts[u]) for u in f.urls)} to the "
        f"hosts, {kept} on a host serving its model within that host's budget. Streaming "
        f"through a metered endpoint model reads {median_rate(ways[METERED]):,.0f} tokens/s "
        f"where the openai client alone reads {median_rate(ways[SDK]):,.0f}: HASHIRU adds "
        f"{per_request * 1e3:.2f} ms a request and {per_token * 1e6:.2f} µs a token."
    )


def median_rate(taken: list[Sample]) -> float:
    return statistics.median(s.rate for s in taken)


def at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if int(text) < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}")
        return int(text)

    return parse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=at_least(1), default=3, help="Ollama hosts")
    parser.add_argument("--models", type=at_least(1), default=50, help="models on them")
    parser.add_argument("--repeat", type=at_least(1), default=10, help="times each is measured")
    parser.add_argument("--tokens", type=at_least(2), default=500, help="tokens in the reply")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(json.loads(args.serve))
        return
    figures = asyncio.run(measure(args.hosts, args.models, args.repeat, args.tokens))
    tables = hosts_table(figures), tokens_table(figures), overhead_table(figures)
    Console().print(Group(*tables, "", summary(figures)))


if __name__ == "__main__":
    main()
