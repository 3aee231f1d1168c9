"""A ledger on a temporary file and short ways to reserve, settle and hire on it; a
scorecard's earlier record."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest

from hashiru.economy.ledger import THIS_MACHINE, Ledger, Placement, Reservation
from hashiru.economy.outcomes import Outcomes
from hashiru.economy.resources import GIB
from hashiru.messages import Usage

BUDGET = Decimal("1.00")
NANO = Decimal("1e-9")  # the ledger's unit: every total, hold and cost is a whole number of them


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.db", BUDGET, 8 * GIB)


def reserve(ledger: Ledger, usd: str, run_id: str = "run", agent: str = "a", **kw) -> Reservation:
    return ledger.reserve(
        run_id=run_id, agent=agent, model="m", provider="p", usd=Decimal(usd), **kw
    )


def settle(ledger: Ledger, reservation: Reservation, usd: str | Decimal) -> None:
    usage = Usage(input_tokens=10, output_tokens=5)
    ledger.settle(reservation, usd=Decimal(usd), usage=usage, seconds=0.1, price_source="test")


def hire(
    ledger: Ledger,
    agent: str,
    model: str,
    gib: float,
    fee: str = "0",
    run_id: str = "run",
    hosts: tuple[str, ...] = (THIS_MACHINE,),
    **kw,
) -> Placement:
    """Hire `agent` on `model`, which takes `gib` on whichever of `hosts` the ledger places it."""
    return ledger.hire(
        run_id=run_id,
        agent=agent,
        model=model,
        provider="ollama",
        fee_usd=Decimal(fee),
        placements=[Placement(host, int(gib * GIB)) for host in hosts],
        **kw,
    )


def file_asks(
    outcomes: Outcomes,
    model: str,
    kind: str,
    verdicts: Iterable[str],
    usd: str = "0",
    seconds: float = 1.0,
    source: str = "bench",
) -> None:
    """An earlier record: one ask per verdict, "good" or "bad" (rated by `source`), "failed",
    or "" (left unjudged), each of 100 tokens in and 20 out."""
    for verdict in verdicts:
        ask = outcomes.record_ask(
            run_id="earlier",
            agent="e",
            model=model,
            kind=kind,
            usage=Usage(input_tokens=100, output_tokens=20),
            usd=Decimal(usd),
            seconds=seconds,
            failed=verdict == "failed",
        )
        if verdict in ("good", "bad"):
            outcomes.rate(ask, verdict, source)
