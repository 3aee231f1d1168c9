"""What `bench report` computes: each run's statistics and the paired comparisons.

Plain values in a module of their own, so the plot and the report both read them and neither
imports the other.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field


class RunStats(BaseModel):
    task: str
    system: str
    model: str
    seed: int
    file: str
    items: int
    errors: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_cost_usd: Decimal | None
    total_cost_usd: Decimal
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    mean_seconds: float | None
    # the memory the company held (hired local models, in GiB) when an item ended, on average
    mean_resource_gib_used: float | None = None


class EmployeeStats(BaseModel):
    """One employee model's answers on one task, scored against the gold (HASHIRU runs only).

    `right` counts solved answers (score 1): what `bench run --learn` files as good verdicts.
    `accuracy` is right / answers with its 95% Wilson interval; `mean_score` keeps JEEBench's
    partial credit.
    """

    task: str
    model: str
    answers: int
    right: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_score: float


class Comparison(BaseModel):
    """HASHIRU (with `hashiru_model` as CEO) against `baseline_model` on their shared items."""

    task: str
    hashiru_model: str
    baseline_model: str
    items: int
    hashiru_accuracy: float
    baseline_accuracy: float
    wins: int  # solved by HASHIRU only
    losses: int  # solved by the baseline only
    mcnemar_p: float
    hashiru_mean_cost_usd: Decimal | None
    baseline_mean_cost_usd: Decimal | None
    hashiru_mean_seconds: float | None
    baseline_mean_seconds: float | None


class Summary(BaseModel):
    runs: list[RunStats]
    comparisons: list[Comparison]
    employees: list[EmployeeStats] = Field(default_factory=list)
