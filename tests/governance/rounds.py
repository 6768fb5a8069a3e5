"""Builds agent "rounds" (ended episodes) with decisions, violations and runtime metrics."""

import itertools

from apps.governance.oracle import oracle_episode
from apps.reviews.models import Violation
from apps.traces import services as traces

_numbers = itertools.count(1)


def play_round(project, agent="trader", *, verdicts=(), violations=(), metrics=None, run_oracle=True):
    """One ended episode for `agent`: decision steps with `verdicts` (tool, verdict) pairs,
    Violation rows (severity, first step index), outcome metrics; then the Oracle runs on it."""
    episode, _ = traces.episode_upsert(project=project, external_id=f"round-{next(_numbers)}", agents=[agent])
    for tool, verdict in verdicts:
        traces.step_append(
            episode=episode, kind="decision", actor="governance", agent=agent, tool=tool, arguments={},
            result={"verdict": verdict, "arguments": {}, "message": "", "rule": None},
            attributes={"verdict": verdict, "rule": None, "decision_id": next(_numbers), "policy": None},
        )
    for n, (severity, index) in enumerate(violations):
        Violation.objects.create(project=project, episode=episode, source="contract", name=f"c{n}",
                                 severity=severity, first_step_index=index, agent=agent)
    episode = traces.episode_end(episode=episode, status="completed", outcome={"metrics": metrics or {}})
    if run_oracle:
        oracle_episode(episode=episode)
    return episode


def colluding(project, agent="trader", tier=3):
    return play_round(project, agent, metrics={"collusion_tier": tier})


def clean(project, agent="trader"):
    return play_round(project, agent, verdicts=[("produce", "allow")])
