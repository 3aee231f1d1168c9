"""The report's statistics: Wilson intervals for accuracy, McNemar's exact test for pairs.

Small samples are the norm here (a benchmark run costs money), so both are the small-sample
forms: Wilson's interval stays inside [0, 1] and is not degenerate at 0% or 100%, and
McNemar's test is the exact binomial one rather than its chi-squared approximation.
"""

from __future__ import annotations

from math import comb, sqrt
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) when n is 0.

    `successes` may be fractional (JEEBench's partial credit): the interval is then that of
    the mean score treated as a proportion, exact only for 0/1 scores.
    """
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    margin = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # at 0% and 100% the interval touches the edge exactly (rounding would leave it 1e-17 off)
    low = 0.0 if p == 0 else max(0.0, centre - margin)
    high = 1.0 if p == 1 else min(1.0, centre + margin)
    return low, high


def mcnemar_exact(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (one arm right, one wrong).

    Under the null hypothesis each discordant pair is a fair coin: p is twice the binomial tail
    of the rarer outcome, capped at 1; with no discordant pairs there is no evidence, p = 1.
    """
    n = wins + losses
    tail = sum(comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)
