"""The replay diff: a recorded episode's calls decided again under another policy version, per step
(recorded verdict -> the version's verdict), with what that would change for the episode's outcome.

Reads only: nothing is decided for real, nothing is written. The episode's later steps are its
recorded ones (the agent is not played again), so a call that would now be blocked is shown with
what the agent did next as it happened, and the outcome lines say what the verdicts alone imply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import QuerySet

from apps.policies.engine_cache import compiled
from apps.policies.models import PolicyVersion
from apps.policies.replay import StepVerdict, episode_verdicts
from apps.tenancy.models import Project
from apps.traces.models import Episode

RUNS = ("allow", "rewrite")  # a call under these verdicts runs
MAX_ROWS = 2000


@dataclass
class ReplayDiff:
    version: PolicyVersion
    rows: list[StepVerdict] = field(default_factory=list)
    truncated: bool = False
    transitions: Counter = field(default_factory=Counter)
    stopped: list[int] = field(default_factory=list)  # ran before, would not run now
    released: list[int] = field(default_factory=list)  # did not run before, would run now
    ends_at: int | None = None  # the first call the version terminates the episode at

    @property
    def changed(self) -> int:
        return sum(self.transitions.values())

    @property
    def transition_list(self) -> list[tuple[str, str, int]]:
        """(before, after, calls), most frequent first (a Counter cannot be iterated in a template)."""
        return [(before, after, n) for (before, after), n in self.transitions.most_common()]


def policy_versions(*, project: Project) -> QuerySet[PolicyVersion]:
    """Every version of every policy of the project, newest first within a policy."""
    return (PolicyVersion.objects.filter(project=project).select_related("policy")
            .order_by("policy__name", "-number"))


def episode_replay_diff(*, episode: Episode, version: PolicyVersion) -> ReplayDiff:
    policy = compiled(digest=version.digest, source=version.source)
    diff = ReplayDiff(version=version)
    for row in episode_verdicts(policy=policy, episode=episode):
        if len(diff.rows) < MAX_ROWS:
            diff.rows.append(row)
        else:
            diff.truncated = True
        if row.changed:
            diff.transitions[(row.before, row.after)] += 1
            if row.before in RUNS and row.after not in RUNS:
                diff.stopped.append(row.index)
            elif row.before not in RUNS and row.after in RUNS:
                diff.released.append(row.index)
        if row.after == "terminate" and diff.ends_at is None:
            diff.ends_at = row.index
    return diff
