"""Differences between two conditions (regimes) with confidence intervals, and Cohen's d."""

from __future__ import annotations

import math

from scipy import stats as sps

from apps.experiments.stats.intervals import CONFIDENCE, Interval, proportion_ci
from apps.experiments.stats.moments import Moments


def mean_difference_ci(a: Moments, b: Moments, *, confidence: float = CONFIDENCE) -> Interval:
    """Welch's t interval for mean(a) - mean(b): no equal-variance assumption, since a regime
    that enforces rules usually also narrows the spread."""
    n = a.n + b.n
    if a.n < 2 or b.n < 2:
        estimate = a.mean - b.mean if a.n and b.n else math.nan
        return Interval(estimate, math.nan, math.nan, n, "welch")
    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(va + vb)
    estimate = a.mean - b.mean
    if se == 0:
        return Interval(estimate, estimate, estimate, n, "welch")
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    low, high = sps.t.interval(confidence, df, loc=estimate, scale=se)
    return Interval(estimate, float(low), float(high), n, "welch")


def proportion_difference_ci(successes_a: int, n_a: int, successes_b: int, n_b: int, *,
                             confidence: float = CONFIDENCE) -> Interval:
    """Newcombe's hybrid score interval (his method 10) for p_a - p_b, from the two Wilson
    intervals: stays inside [-1, 1] and behaves at 0% or 100%, where a Wald interval collapses."""
    if n_a == 0 or n_b == 0:
        return Interval(math.nan, math.nan, math.nan, n_a + n_b, "newcombe")
    a = proportion_ci(successes_a, n_a, confidence=confidence)
    b = proportion_ci(successes_b, n_b, confidence=confidence)
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high, n_a + n_b, "newcombe")


def cohens_d(a: Moments, b: Moments) -> float:
    """(mean(a) - mean(b)) / pooled SD, the pooled SD weighting each sample's variance by n - 1.
    nan when it is undefined (fewer than two values in all, or no spread at all)."""
    if a.n == 0 or b.n == 0 or a.n + b.n < 3:
        return math.nan
    pooled = math.sqrt((a.m2 + b.m2) / (a.n + b.n - 2))
    if pooled == 0:
        return math.nan
    return (a.mean - b.mean) / pooled
