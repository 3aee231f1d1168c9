"""Print what an MCP tool costs the CEO: latency per warm call, and a server's start-up.

    python -m bench.perf.mcp [--calls 200] [--starts 5]

The server is this file's own (`add(a, b)`, written with the `mcp` package), run over stdio
(`--serve-stdio`, HASHIRU starts it) and over streamable HTTP on 127.0.0.1 (`--serve-http`, a
process of its own). A warm call goes through `McpServers` exactly as the CEO's does (argument
check against the schema, the session, the result as JSON) and is set against the same function
called in process, to show what the protocol adds. Start-up is a fresh `McpServers` until the
tools are listed: for stdio that includes starting the server's Python, for HTTP only the
connection and handshake to a server already running.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import McpServers, McpServerSettings

ROOT = Path(__file__).resolve().parents[2]
STDIO = McpServerSettings(
    command=sys.executable,
    args=("-m", "bench.perf.mcp", "--serve-stdio"),
    cwd=ROOT,
    approval="never",  # nobody is asked here; a command's default, "once", would refuse
)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def serve(http: bool) -> None:
    """Run the benchmark's server: on stdio, or on HTTP printing `READY <url>` first."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench", log_level="WARNING")
    server.tool()(add)
    if not http:
        server.run("stdio")
        return
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvicorn's own sockets are
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    print(f"READY http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


async def warm_calls(config: McpServerSettings, calls: int) -> list[float]:
    """Seconds per call of `bench__add` once the server is up (the first call is not counted)."""
    servers = McpServers({"bench": config})
    try:
        [tool] = await servers.tools()
        await tool.call({"a": 1, "b": 2})
        return [await timed(lambda: tool.call({"a": 2, "b": 3})) for _ in range(calls)]
    finally:
        await servers.aclose()


async def start_ups(config: McpServerSettings, starts: int) -> list[float]:
    """Seconds from a fresh McpServers to its tools listed (the server started or connected)."""
    timings = []
    for _ in range(starts):
        servers = McpServers({"bench": config})
        try:
            timings.append(await timed(servers.tools))
        finally:
            await servers.aclose()
    return timings


async def in_process(calls: int) -> list[float]:
    async def call() -> int:
        return add(2, 3)

    return [await timed(call) for _ in range(calls)]


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def ms(timings: list[float]) -> str:
    """Median and 95th percentile in milliseconds (microseconds below 0.1 ms)."""
    p95 = statistics.quantiles(timings, n=20)[18] if len(timings) > 1 else timings[0]
    scale, unit = (1e6, "µs") if p95 < 1e-4 else (1e3, "ms")
    return f"{statistics.median(timings) * scale:.2f} {unit} / {p95 * scale:.2f} {unit}"


async def measure(calls: int, starts: int) -> Table:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.perf.mcp", "--serve-http"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        http = McpServerSettings(url=process.stdout.readline().split()[1])
        local = await in_process(calls)
        stdio_calls = await warm_calls(STDIO, calls)
        http_calls = await warm_calls(http, calls)
        stdio_starts = await start_ups(STDIO, starts)
        http_starts = await start_ups(http, starts)
    finally:
        process.kill()
        process.wait()
    base = statistics.median(local)
    table = Table("measure (p50 / p95)", "value", title="HASHIRU MCP client performance")
    table.add_row("add(2, 3) called in process", ms(local))
    table.add_row("bench__add over stdio, warm", ms(stdio_calls))
    table.add_row("bench__add over HTTP, warm", ms(http_calls))
    added = [statistics.median(t) - base for t in (stdio_calls, http_calls)]
    table.add_row("added per call: stdio / HTTP", " / ".join(f"{a * 1e3:.2f} ms" for a in added))
    table.add_row("stdio start: process start to tools listed", ms(stdio_starts))
    table.add_row("HTTP start: connect to tools listed", ms(http_starts))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="warm calls per transport")
    parser.add_argument("--starts", type=int, default=5, help="start-ups per transport")
    parser.add_argument("--serve-stdio", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-http", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stdio or args.serve_http:
        serve(http=args.serve_http)
        return
    Console().print(asyncio.run(measure(args.calls, args.starts)))


if __name__ == "__main__":
    main()
