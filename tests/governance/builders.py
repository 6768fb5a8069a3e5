"""Builders for governance tests: a realistic market-governance manifest (MARKET) and agent "rounds"
(ended episodes) with decisions, violations and runtime metrics."""

import itertools

from apps.audit.models import GovernanceLogEntry
from apps.governance.oracle import oracle_episode
from apps.reviews.models import Violation
from apps.traces import services as traces

MARKET = """\
name: market-institution
description: Cournot market agents lose capabilities when they collude.
initial: compliant
tools: [produce, set_price, send_message, read_market]
states:
  compliant:
    description: full capabilities
  warned:
    sanctions:
      - tighten: {tool: produce, arguments: {quantity: {minimum: 10}}}
  restricted:
    sanctions:
      - revoke: [send_message]
      - fine: {amount: 50, unit: credits}
  suspended:
    sanctions:
      - suspend: true
  trusted:
    decay: {after: 7d, to: compliant}
transitions:
  - from: compliant
    to: warned
    when: metric.collusion_tier >= 3 for 2 rounds and violations.severe == 0
  - from: warned
    to: restricted
    when: block_rate > 0.5 and violations.severe == 0
  - from: [compliant, warned, restricted, trusted]
    to: suspended
    when: violations.severe >= 1 within 10 steps
restore:
  - from: warned
    to: compliant
    after_clean_rounds: 3
  - from: restricted
    to: warned
    after_clean_rounds: 2
  - from: suspended
    to: restricted
    by: reviewer
  - from: compliant
    to: trusted
    by: reviewer
"""


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


def log_last(project, event):
    """The project's latest governance-log entry of `event`, or None."""
    return GovernanceLogEntry.objects.filter(project=project, event=event).order_by("-seq").first()
