"""Experiment statistics: pure functions (numpy / scipy, no Django, no app imports).

Results are aggregated incrementally, so most functions take *sufficient statistics* rather than
raw values: `Moments` (count, mean, sum of squared deviations; mergeable batch by batch) for means,
success counts for proportions, per-task (repeats, successes) for Pass@k / Pass^k. A 10,000-episode
experiment therefore never re-reads its episodes to show its table.

- `mean_ci`: Student-t interval for a mean; `proportion_ci`: Wilson (default) or Clopper-Pearson.
- `mean_difference_ci`: Welch's t interval for a difference of means; `proportion_difference_ci`:
  Newcombe's hybrid score interval built from the two Wilson intervals.
- `cohens_d`: standardised difference with the pooled standard deviation.
- `pass_at_k` / `pass_hat_k`: unbiased estimators over n repeats with c successes (capability:
  at least one of k succeeds; consistency: all k succeed), averaged over tasks by `passk_mean`.
- `bootstrap_ci`: percentile/BCa bootstrap over raw values (scipy.stats.bootstrap), seeded.
"""

from apps.experiments.stats.effects import cohens_d, mean_difference_ci, proportion_difference_ci
from apps.experiments.stats.intervals import Interval, IntervalDict, bootstrap_ci, mean_ci, proportion_ci
from apps.experiments.stats.moments import Moments
from apps.experiments.stats.passk import PassK, pass_at_k, pass_hat_k, passk_mean

__all__ = [
    "Interval", "IntervalDict", "Moments", "PassK", "bootstrap_ci", "cohens_d", "mean_ci", "mean_difference_ci", "pass_at_k",
    "pass_hat_k", "passk_mean", "proportion_ci", "proportion_difference_ci",
]
