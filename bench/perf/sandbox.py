"""Print what one sandboxed tool call costs: cold and warm latency, and calls per second.

    python -m bench.perf.sandbox [--calls 100]

Cold: no warm worker, so the call starts an interpreter and puts up its fences. Warm: a worker
from the pool is waiting with its fences up already. Throughput is measured back to back
(sequential) and with four calls in flight; the pool refills itself as calls take workers.
Each call runs a tiny tool, so the figures are the sandbox's own overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rich.console import Console
from rich.table import Table

from hashiru import Sandbox, SandboxConfig, Settings

TOOL = "def run(x):\n    return {'double': x * 2}\n"


async def call(sandbox: Sandbox) -> float:
    started = time.perf_counter()
    assert await sandbox.call_tool(TOOL, {"x": 21}) == {"double": 42}
    return time.perf_counter() - started


async def cold(config: SandboxConfig, calls: int) -> list[float]:
    sandbox = Sandbox(config, pool_size=0)
    try:
        await call(sandbox)  # probes the OS layers once; not counted
        return [await call(sandbox) for _ in range(calls)]
    finally:
        await sandbox.aclose()


async def warm(config: SandboxConfig, calls: int) -> list[float]:
    sandbox = Sandbox(config)
    try:
        timings = []
        for _ in range(calls):
            await sandbox.warm_up()
            timings.append(await call(sandbox))
        return timings
    finally:
        await sandbox.aclose()


async def throughput(config: SandboxConfig, calls: int, concurrent: int) -> float:
    """Calls per second with `concurrent` calls in flight and a pool of as many workers."""
    sandbox = Sandbox(config, pool_size=max(2, concurrent))
    await sandbox.warm_up()
    left = iter(range(calls))

    async def caller() -> None:
        for _ in left:
            await call(sandbox)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrent)))
        return calls / (time.perf_counter() - started)
    finally:
        await sandbox.aclose()


def percentiles(timings: list[float]) -> str:
    cuts = statistics.quantiles(timings, n=20)
    return f"{statistics.median(timings) * 1e3:.1f} ms / {cuts[18] * 1e3:.1f} ms"


async def measure(calls: int) -> Table:
    config = SandboxConfig.from_settings(Settings.load())
    cold_timings = await cold(config, max(10, calls // 5))
    warm_timings = await warm(config, calls)
    sequential = await throughput(config, calls, 1)
    parallel = await throughput(config, calls, 4)
    table = Table("measure", "value", title="HASHIRU sandbox performance")
    table.add_row("cold call, p50 / p95", percentiles(cold_timings))
    table.add_row("warm call, p50 / p95", percentiles(warm_timings))
    table.add_row("calls per second, one after another", f"{sequential:.0f}")
    table.add_row("calls per second, 4 in flight", f"{parallel:.0f}")
    table.add_row("layers", "\n".join(Sandbox(config).layers()))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="calls per measurement")
    args = parser.parse_args()
    Console().print(asyncio.run(measure(args.calls)))


if __name__ == "__main__":
    main()
