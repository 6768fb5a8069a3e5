"""95% confidence intervals: Student t for means, Wilson or Clopper-Pearson for proportions,
bootstrap where no closed form fits."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import SupportsFloat, TypedDict

import numpy as np
from scipy import stats as sps

from apps.experiments.stats.moments import Moments

CONFIDENCE = 0.95


class IntervalDict(TypedDict):
    """An Interval as JSON: nan (an undefined bound or estimate) becomes None."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    method: str


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval; `low`/`high` are nan when n is too small."""

    estimate: float
    low: float
    high: float
    n: int
    method: str

    def as_dict(self) -> IntervalDict:
        return {"estimate": _defined(self.estimate), "low": _defined(self.low), "high": _defined(self.high),
                "n": self.n, "method": self.method}


def _defined(value: float) -> float | None:
    return None if math.isnan(value) else value


def mean_ci(moments: Moments, *, confidence: float = CONFIDENCE) -> Interval:
    """Student-t interval for the mean. With zero spread the interval is the point itself."""
    if moments.n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "t")
    if moments.n == 1:
        return Interval(moments.mean, math.nan, math.nan, 1, "t")
    se = moments.sd / math.sqrt(moments.n)
    if se == 0:
        return Interval(moments.mean, moments.mean, moments.mean, moments.n, "t")
    low, high = sps.t.interval(confidence, moments.n - 1, loc=moments.mean, scale=se)
    return Interval(moments.mean, float(low), float(high), moments.n, "t")


def proportion_ci(successes: int, n: int, *, method: str = "wilson", confidence: float = CONFIDENCE) -> Interval:
    """Wilson score interval (default: good coverage at small n and near 0 or 1) or
    Clopper-Pearson ("exact": guaranteed coverage, wider)."""
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({successes} of {n})")
    if method not in ("wilson", "exact"):
        raise ValueError("method must be 'wilson' or 'exact'")
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, method)
    ci = sps.binomtest(successes, n).proportion_ci(confidence_level=confidence, method=method)
    return Interval(successes / n, float(ci.low), float(ci.high), n, method)


def bootstrap_ci(values: Sequence[float], *, statistic: Callable[..., SupportsFloat] = np.mean, seed: int = 0,
                 resamples: int = 2000, confidence: float = CONFIDENCE) -> Interval:
    """Bootstrap interval (BCa, percentile when BCa is undefined) for any statistic of raw values.
    Seeded, so a re-run of the same results gives the same interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "bootstrap")
    estimate = float(statistic(data))
    if data.size == 1 or np.all(data == data[0]):
        return Interval(estimate, estimate, estimate, int(data.size), "bootstrap")
    rng = np.random.default_rng(seed)
    method = "BCa"
    with np.errstate(all="ignore"):
        result = sps.bootstrap((data,), statistic, n_resamples=resamples, confidence_level=confidence,
                               method=method, rng=rng)
        low, high = result.confidence_interval
        if not (math.isfinite(low) and math.isfinite(high)):
            method = "percentile"
            result = sps.bootstrap((data,), statistic, n_resamples=resamples, confidence_level=confidence,
                                   method=method, rng=np.random.default_rng(seed))
            low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), int(data.size), f"bootstrap-{method}")
