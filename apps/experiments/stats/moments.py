"""Running moments that merge: one batch of episode results at a time, in any order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Moments:
    """Count, mean and M2 (sum of squared deviations from the mean) of a sample.

    Stored instead of raw values: two samples merge exactly (Chan et al.'s parallel update), which
    is what lets workers add their episodes' results in batches without re-reading the others,
    and it keeps its precision where a plain sum of squares would cancel (large profits).
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float]) -> Moments:
        total = cls()
        for value in values:
            total = total.add(value)
        return total

    @classmethod
    def from_list(cls, data: Sequence[float] | None) -> Moments:
        """From the JSON form `[n, mean, m2]` (see `as_list`)."""
        if not data:
            return cls()
        n, mean, m2 = data
        return cls(int(n), float(mean), float(m2))

    def as_list(self) -> list[float]:
        return [self.n, self.mean, self.m2]

    def add(self, value: float) -> Moments:
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"not a finite number: {value!r}")
        n = self.n + 1
        delta = x - self.mean
        mean = self.mean + delta / n
        return Moments(n, mean, self.m2 + delta * (x - mean))

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return Moments(n, mean, m2)

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); nan below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance) if self.n > 1 else math.nan
