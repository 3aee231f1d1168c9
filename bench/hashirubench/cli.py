"""`python -m bench run|report`: the HASHIRUBench command line (see bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench.hashirubench.arms import SYSTEMS
from bench.hashirubench.data import BenchError, default_data_dir, download
from bench.hashirubench.report import report, usd
from bench.hashirubench.runner import RunOptions, run
from bench.hashirubench.tasks import TASKS
from hashiru import HashiruError, Provider

DEFAULT_OUT = Path("bench-results")


def main(argv: Sequence[str] | None = None, providers: Sequence[Provider] = ()) -> int:
    """Run the command; `providers` adds model backends (tests pass scripted ones)."""
    args = parser().parse_args(argv)
    console = Console(highlight=False)
    try:
        if args.command == "run":
            return run_command(args, providers, console)
        out = args.dirs[0]
        report(
            args.dirs,
            markdown=args.md or out / "summary.md",
            plot=args.plot or out / "cost_vs_accuracy.png",
            json_path=args.json or out / "summary.json",
            console=console,
        )
        return 0
    except (BenchError, HashiruError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: the items recorded are kept; run again to resume")
        return 130


def run_command(args: argparse.Namespace, providers: Sequence[Provider], console: Console) -> int:
    if args.download:
        download(args.data_dir, TASKS[args.task].DATA)
    options = RunOptions(
        task=args.task,
        system=args.system,
        model=args.model,
        data_dir=args.data_dir,
        out=args.out,
        limit=args.limit,
        seed=args.seed,
        concurrency=args.concurrency,
        budget_usd=args.budget_usd,
        home=args.home,
        learn=args.learn,
        record=args.record,
        replay=args.replay,
    )
    tally = asyncio.run(run(options, providers))
    errors = f", {tally.errors} errors (re-run to retry them)" if tally.errors else ""
    learned = f", {tally.learned.describe()}" if tally.learned is not None else ""
    replayed = f", replayed from {args.replay}" if args.replay is not None else ""
    console.print(
        f"{args.task} {args.system} {args.model}: {tally.items} items ({tally.new} new), "
        f"accuracy {tally.accuracy:.1%}, spent {usd(tally.spent)}{errors}{learned}{replayed}"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("run", help="run one task on one system and model")
    runs.add_argument("task", choices=sorted(TASKS))
    runs.add_argument("--system", choices=SYSTEMS, required=True)
    runs.add_argument("--model", required=True, help="provider:model (HASHIRU's CEO or alone)")
    runs.add_argument("--limit", type=_positive, help="the first N items of the seeded order")
    runs.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    runs.add_argument("--concurrency", type=_positive, default=1, help="items run at once")
    runs.add_argument("--budget-usd", type=Decimal, help="cap each item's spend in USD")
    runs.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    runs.add_argument("--data-dir", type=Path, default=default_data_dir())
    runs.add_argument("--download", action="store_true", help="fetch missing data files")
    runs.add_argument("--home", type=Path, help="HASHIRU_HOME for the run")
    runs.add_argument(
        "--learn",
        action="store_true",
        help="rate each employee answer against the gold in the workspace's scorecard",
    )
    runs.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="keep every model call on a cassette in DIR, written as each item finishes",
    )
    runs.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="answer every model call from the cassette --record kept in DIR: no call, $0",
    )
    reports = commands.add_parser("report", help="summarise runs: tables, markdown, plot")
    reports.add_argument("dirs", type=Path, nargs="*", default=[DEFAULT_OUT])
    reports.add_argument("--md", type=Path, help="markdown file (default DIR/summary.md)")
    reports.add_argument("--plot", type=Path, help="PNG file (default DIR/cost_vs_accuracy.png)")
    reports.add_argument("--json", type=Path, help="JSON file (default DIR/summary.json)")
    return root


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
