"""Pass@k and Pass^k over repeats of one task (capability versus consistency).

With n repeats of a task of which c succeeded, the unbiased estimators are
pass@k = 1 - C(n-c, k) / C(n, k) (at least one of k fresh tries succeeds) and
pass^k = C(c, k) / C(n, k) (all k succeed). Both need k <= n.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypedDict

from scipy.special import comb


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"successes must be between 0 and n ({c} of {n})")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of repeats ({k} of {n})")


def pass_at_k(n: int, c: int, k: int) -> float:
    _check(n, c, k)
    return float(1.0 - comb(n - c, k, exact=True) / comb(n, k, exact=True))


def pass_hat_k(n: int, c: int, k: int) -> float:
    _check(n, c, k)
    return float(comb(c, k, exact=True) / comb(n, k, exact=True))


class PassK(TypedDict):
    """Mean Pass@k and Pass^k over `tasks` tasks (None when none had k repeats)."""

    k: int
    tasks: int
    skipped: int
    pass_at_k: float | None
    pass_hat_k: float | None


def passk_mean(tasks: Iterable[tuple[int, int]], k: int) -> PassK:
    """Mean Pass@k and Pass^k over tasks given as (repeats, successes); tasks with fewer than k
    repeats are left out (and counted), since neither estimator is defined for them."""
    at: list[float] = []
    hat: list[float] = []
    skipped = 0
    for n, c in tasks:
        if n < k:
            skipped += 1
            continue
        at.append(pass_at_k(n, c, k))
        hat.append(pass_hat_k(n, c, k))
    return {
        "k": k, "tasks": len(at), "skipped": skipped,
        "pass_at_k": math.fsum(at) / len(at) if at else None,
        "pass_hat_k": math.fsum(hat) / len(hat) if hat else None,
    }
