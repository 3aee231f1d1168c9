"""Wilson intervals and McNemar's exact test against published and hand-computed values."""

from __future__ import annotations

import pytest

from bench.hashirubench.stats import mcnemar_exact, wilson


@pytest.mark.parametrize(
    ("successes", "n", "interval"),
    [
        (0, 10, (0.0, 0.2775)),  # the textbook values (e.g. statsmodels' proportion_confint)
        (5, 10, (0.2366, 0.7634)),
        (10, 10, (0.7225, 1.0)),
        (81, 263, (0.2553, 0.3662)),  # Wilson (1927)'s worked example, in Newcombe (1998)
    ],
)
def test_wilson(successes: float, n: int, interval: tuple[float, float]) -> None:
    assert wilson(successes, n) == pytest.approx(interval, abs=5e-5)


def test_wilson_without_items_says_nothing() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("n", [1, 3, 5, 7, 10, 49])
def test_wilson_contains_0_and_100_percent_exactly(n: int) -> None:
    assert wilson(0, n)[0] == 0.0
    assert wilson(n, n)[1] == 1.0


@pytest.mark.parametrize(
    ("wins", "losses", "p"),
    [
        (0, 5, 2 / 32),  # 2 * P(X <= 0), X ~ Bin(5, 1/2)
        (1, 9, 22 / 1024),
        (9, 1, 22 / 1024),  # symmetric
        (2, 4, 44 / 64),
        (3, 2, 1.0),  # twice the tail is above 1: capped
        (0, 0, 1.0),
    ],
)
def test_mcnemar_exact(wins: int, losses: int, p: float) -> None:
    assert mcnemar_exact(wins, losses) == pytest.approx(p)
