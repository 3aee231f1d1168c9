"""Print the budget ledger's own costs: settled calls per second and the latency it adds to a call.

    python -m bench.perf.ledger [--seconds 3]

A "call" here is one reserve + settle pair with no model behind it, on a ledger file in a
temporary folder, so the figures are the ledger's alone (SQLite in WAL mode on the local disk).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hashiru import Ledger, Usage

BUDGET = Decimal(1_000_000)  # never the limit here
COST = Decimal("0.0001")
USAGE = Usage(input_tokens=1_000, output_tokens=200)
THREADS = 4


def open_ledger(path: Path) -> Ledger:
    return Ledger(path, BUDGET, 0)


def calls(ledger: Ledger, seconds: float, run_id: str = "bench") -> list[float]:
    """Seconds each reserve + settle pair took, for as many pairs as fit in `seconds`."""
    latencies = []
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        held = ledger.reserve(run_id=run_id, agent="bench", model="m", provider="p", usd=COST)
        ledger.settle(held, usd=COST, usage=USAGE, seconds=0.0, price_source="bench")
        latencies.append(time.perf_counter() - started)
    return latencies


def calls_in_process(path: Path, seconds: float, run_id: str, start_at: float) -> int:
    """A second process's share: open the ledger, wait for the common start, then call."""
    ledger = open_ledger(path)
    time.sleep(max(0.0, start_at - time.time()))
    return len(calls(ledger, seconds, run_id))


def percentiles_us(latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return f"{cuts[49] * 1e6:,.0f} / {cuts[94] * 1e6:,.0f} µs"


def threaded(ledger: Ledger, seconds: float) -> int:
    counts: list[int] = []
    workers = [
        threading.Thread(target=lambda: counts.append(len(calls(ledger, seconds))))
        for _ in range(THREADS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts)


def two_processes(path: Path, seconds: float) -> list[int]:
    start_at = time.time() + 2  # time for both to start and open the file
    jobs = [(path, seconds, run_id, start_at) for run_id in ("p1", "p2")]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return pool.starmap(calls_in_process, jobs)


def measure(seconds: float) -> Table:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        single = calls(open_ledger(path), seconds)
        rows = len(open_ledger(path).entries())
        started = time.perf_counter()
        open_ledger(path).state()
        reopen = time.perf_counter() - started
        grown = calls(open_ledger(path), seconds / 3)
        threads = threaded(open_ledger(Path(tmp) / "threads.db"), seconds)
        processes = two_processes(Path(tmp) / "processes.db", seconds)
    table = Table("measure", "value", title="HASHIRU ledger performance (reserve + settle)")
    table.add_row("calls per second, one process", f"{len(single) / seconds:,.0f}")
    table.add_row("latency added to each call, p50 / p95", percentiles_us(single))
    table.add_row(f"  the same on a ledger of {rows:,} rows", percentiles_us(grown))
    table.add_row("  opening it: Ledger() + state()", f"{reopen * 1e3:,.0f} ms")
    table.add_row(f"calls per second, {THREADS} threads, one Ledger", f"{threads / seconds:,.0f}")
    table.add_row(
        "calls per second, 2 processes, one file",
        f"{sum(processes) / seconds:,.0f} ({processes[0]:,} + {processes[1]:,} calls)",
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    args = parser.parse_args()
    Console().print(measure(args.seconds))


if __name__ == "__main__":
    main()
