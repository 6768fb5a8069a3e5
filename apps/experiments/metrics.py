"""Trial metrics read from a run's trace rather than its environment: contract compliance and fault
containment, for a batch of finished runs.

Both are left out of a trial's metrics when nothing could have measured them: compliance when the
run was checked by no contract (or by none that could decide), containment when no fault happened.
A missing metric is "unknown" in the result table, never a perfect score.

- `contract_compliance` (boolean): every contract the run was checked by passed. It uses the stored
  verdicts when they were made after the episode ended; otherwise (the end-of-episode check task has
  not run yet) the same contracts are checked in process, without storing anything, so a trial is
  counted with final verdicts whichever finishes first.
- `containment_rate` (number): the share of the run's faults after which no unsafe call ran
  (episodes.environments.faults.containment_rate, unsafe = the injected payload's tool).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from apps.contracts import engine
from apps.contracts.models import ContractVersion, Verdict
from apps.contracts.services import compiled, episode_steps
from apps.episodes.environments.base import StepRecord
from apps.episodes.environments.faults import FaultSpec, containment_rate, payload_called
from apps.episodes.spec import SpecError
from apps.traces.models import Episode, Step

DECIDED = (engine.PASS, engine.FAIL)


def compliance_of(statuses: Iterable[str]) -> bool | None:
    """True if no contract failed and at least one passed; None if none could decide."""
    decided = [s for s in statuses if s in DECIDED]
    if not decided:
        return None
    return engine.FAIL not in decided


def contract_compliance(*, runs: list[dict]) -> dict[int, bool]:
    """{episode id: compliance} for runs given as {"episode_id", "contracts": [version digests]};
    episodes no contract could judge are left out."""
    wanted = {r["episode_id"]: set(r.get("contracts") or []) for r in runs if r.get("episode_id") and r.get("contracts")}
    if not wanted:
        return {}
    ended = dict(Episode.objects.filter(pk__in=wanted).values_list("pk", "ended_at"))
    stored: dict[int, dict[str, str]] = defaultdict(dict)
    for episode_id, digest, status, checked_at in (
            Verdict.objects.filter(episode_id__in=wanted).values_list("episode_id", "version__digest", "status",
                                                                      "checked_at")):
        end = ended.get(episode_id)
        if end is not None and checked_at >= end:
            stored[episode_id][digest] = status
    out: dict[int, bool] = {}
    versions: dict[str, ContractVersion] = {}
    for episode_id, digests in wanted.items():
        if digests <= set(stored[episode_id]):
            statuses = [stored[episode_id][d] for d in digests]
        else:
            statuses = _check_in_process(episode_id, digests, versions)
        value = compliance_of(statuses)
        if value is not None:
            out[episode_id] = value
    return out


def _check_in_process(episode_id: int, digests: set[str], cache: dict[str, ContractVersion]) -> list[str]:
    missing = digests - set(cache)
    if missing:
        project_id = Episode.objects.filter(pk=episode_id).values_list("project_id", flat=True).get()
        for version in ContractVersion.objects.filter(project_id=project_id, digest__in=missing):
            cache[version.digest] = version
    versions = [cache[d] for d in sorted(digests) if d in cache]
    if not versions:
        return []
    checker = engine.Checker([compiled(v) for v in versions])
    for step in episode_steps(episode=Episode.objects.get(pk=episode_id)):
        checker.feed(step)
    return [v.status for v in checker.finish(ended=True)]


def fault_containment(*, runs: list[dict]) -> dict[int, float]:
    """{episode id: containment rate} for runs given as {"episode_id", "faults": the spec's faults};
    episodes where no fault happened (or without faults) are left out."""
    payloads = {}
    for r in runs:
        if r.get("episode_id") and r.get("faults"):
            try:
                payloads[r["episode_id"]] = FaultSpec.from_dict(r["faults"]).payload
            except SpecError:
                continue
    if not payloads:
        return {}
    steps: dict[int, list[StepRecord]] = defaultdict(list)
    rows = (Step.objects.filter(episode_id__in=payloads, kind__in=("action", "observation", "decision"))
            .order_by("episode_id", "index").values_list("episode_id", "index", "kind", "actor", "agent", "tool",
                                                         "attributes"))
    last_action: dict[tuple[int, str, str], int] = {}
    for episode_id, index, kind, actor, agent, tool, attributes in rows.iterator(chunk_size=2000):
        attributes = dict(attributes or {})
        if kind == "action":
            last_action[(episode_id, agent, tool)] = index
        elif kind == "decision" and "action_index" not in attributes:
            # Stored decisions name their decision row, not the action: theirs is the agent's last call
            # of the same tool (a decision step is written right after the action it decided).
            attributes["action_index"] = last_action.get((episode_id, agent, tool), -1)
        steps[episode_id].append(StepRecord(index=index, kind=kind, actor=actor, agent=agent, tool=tool,
                                            attributes=attributes))
    out = {}
    for episode_id, payload in payloads.items():
        rate = containment_rate(steps.get(episode_id, []), unsafe=payload_called(payload))
        if rate is not None:
            out[episode_id] = rate
    return out
