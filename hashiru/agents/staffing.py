"""Which model to hire for a kind of task, from the company's own record (`auto:<kind>`).

The choice maximises expected value per ask: a right answer is worth `answer_value_usd` (a
setting: what a right answer is worth to you), so a model is worth `p * value - cost`, where
`p` is its chance of a good answer on this kind and `cost` what one of its asks costs. A model
with few asks is not judged on its few: `p` is drawn from the Beta posterior of its record
(Thompson sampling), so an untried model is tried now and then and a proven one is picked
most of the time. Its cost is its own record's mean, or, for an untried model, its price at
the tokens this kind of ask has taken so far.

Within a run, a model whose answer on this kind failed or was judged bad is passed over, so the
CEO's next `auto:<kind>` hire after a bad answer escalates to another model rather than asking
the same one again. Models the budget cannot pay for are never chosen.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from hashiru.economy.outcomes import ScoreLine
from hashiru.messages import Usage

AUTO_PREFIX = "auto:"
TYPICAL_ASK = Usage(input_tokens=1_000, output_tokens=500)
"""An untried kind's ask, for pricing cloud models before the record says better."""


class Offer(BaseModel):
    """A model that could be hired: what an ask is expected to cost (None: no price known),
    and why it cannot be hired now (None: it can)."""

    model_config = ConfigDict(frozen=True)

    ref: str
    local: bool
    usd_per_ask: Decimal | None
    unavailable: str | None = None


class Candidate(BaseModel):
    """One model's numbers in a choice: its record, the success drawn for it, its expected cost
    and value, or why it was passed over."""

    model_config = ConfigDict(frozen=True)

    ref: str
    asks: int
    good: int
    bad: int  # bad and failed together: answers that were no use
    success_rate: float | None
    drawn_success: float | None
    usd_per_ask: Decimal | None
    value_usd: float | None
    passed_over: str | None = None


class Choice(BaseModel):
    """What `auto:<kind>` chose (`ref`, None when nothing could be), why, and the numbers."""

    model_config = ConfigDict(frozen=True)

    kind: str
    ref: str | None
    reason: str
    answer_value_usd: Decimal
    candidates: list[Candidate]


def auto_kind(model: str) -> str | None:
    """The kind in "auto:<kind>", or None for an ordinary model reference."""
    return model[len(AUTO_PREFIX) :] if model.startswith(AUTO_PREFIX) else None


def choose(
    kind: str,
    offers: Iterable[Offer],
    record: Mapping[str, ScoreLine],
    answer_value_usd: Decimal,
    rng: random.Random,
    judged_bad: Iterable[str] = (),
) -> Choice:
    """The offer with the highest sampled value `p * answer_value_usd - usd_per_ask` on `kind`.

    `record` is each model's ScoreLine on `kind` (absent: never asked); `judged_bad` are the
    models this run has already seen fail on `kind`.
    """
    passed = set(judged_bad)
    candidates = [
        _candidate(offer, record.get(offer.ref), answer_value_usd, rng, offer.ref in passed)
        for offer in offers
    ]
    ranked = sorted(
        (c for c in candidates if c.passed_over is None),
        key=lambda c: c.value_usd or 0.0,
        reverse=True,
    )
    if not ranked:
        reason = "no model can be hired for it now" + (
            f" ({candidates[0].passed_over})" if len(candidates) == 1 else ""
        )
        return Choice(
            kind=kind,
            ref=None,
            reason=reason,
            answer_value_usd=answer_value_usd,
            candidates=candidates,
        )
    best = ranked[0]
    return Choice(
        kind=kind,
        ref=best.ref,
        reason=_reason(best, kind, answer_value_usd, len(ranked)),
        answer_value_usd=answer_value_usd,
        candidates=sorted(candidates, key=lambda c: c.value_usd or -1.0, reverse=True),
    )


def _candidate(
    offer: Offer, line: ScoreLine | None, value: Decimal, rng: random.Random, judged_bad: bool
) -> Candidate:
    good = line.good if line else 0
    bad = (line.bad + line.failed) if line else 0
    numbers: dict[str, Any] = {
        "ref": offer.ref,
        "asks": line.asks if line else 0,
        "good": good,
        "bad": bad,
        "success_rate": None if line is None or line.success_rate is None else line.success_rate,
    }
    cost = line.mean_usd if line and line.asks else offer.usd_per_ask
    why = offer.unavailable
    if why is None and judged_bad:
        why = "its answer on this kind was judged bad in this run"
    if why is None and cost is None:
        why = "no price is known for it"
    if why is not None:
        return Candidate(
            **numbers, drawn_success=None, usd_per_ask=cost, value_usd=None, passed_over=why
        )
    assert cost is not None
    drawn = rng.betavariate(1 + good, 1 + bad)
    return Candidate(
        **numbers,
        drawn_success=round(drawn, 4),
        usd_per_ask=cost,
        value_usd=round(drawn * float(value) - float(cost), 6),
    )


def _reason(best: Candidate, kind: str, value: Decimal, choices: int) -> str:
    record = (
        f"{best.good} good of {best.good + best.bad} judged on {kind}"
        if best.good + best.bad
        else f"untried on {kind}, so worth a try"
    )
    of = f"of {choices} models" if choices > 1 else "the only model the budgets allow"
    return f"the best value {of} at ${value} a right answer ({record})"
