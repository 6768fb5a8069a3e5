"""The Oracle: turns an ended episode into evidence per agent, then lets the Controller act.

Evidence comes from decision steps (the fields of interface item 2, not the policies tables),
from Violation rows (apps.reviews) and from numeric metrics the runtime reported in
Episode.outcome["metrics"] — a number for every agent, or {agent: number}.

A round is one ended episode of the agent (`oracle_episode`), except in an episode a worker plays
in rounds (a market run): there each of its rounds is one governance round (`oracle_round`, with
that round's steps and metrics), and the episode's end adds no further round.
"""

from collections import Counter, defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.governance import controller
from apps.governance.models import Evidence, GraphVersion
from apps.traces.models import Episode, EpisodeStatus, Step

SEVERE = {"high", "critical"}
_VERDICT_METRIC = {
    "allow": "decisions.allowed", "block": "decisions.blocked", "rewrite": "decisions.rewritten",
    "ask": "decisions.asked", "terminate": "decisions.terminated",
}


def _violations(episode: Episode, steps: dict) -> list[tuple[str, str, int | None]]:
    try:
        from apps.reviews.models import Violation
    except ImportError:  # reviews not installed: no violation evidence
        return []
    found = Violation.objects.filter(episode=episode).exclude(status="dismissed")
    if steps:
        found = found.filter(**{f"first_step_{k}": v for k, v in steps.items()})
    return list(found.values_list("agent", "severity", "first_step_index"))


def episode_evidence(*, episode: Episode, first_index: int = 0, end_index: int | None = None,
                     metrics: dict | None = None, held: list[dict] | None = None,
                     violations: list[tuple[str, str, int | None]] | None = None) -> dict[str, dict]:
    """{agent: {"values": {metric: number}, "marks": {metric: [step index, ...]}}} for one episode.

    With `first_index`/`end_index`, only steps (and violations first seen) in that range count, and
    `metrics` replaces the episode's reported metrics: the evidence of one round of the episode.
    `held`: those steps as stored (index, kind, agent, tool, attributes), when the caller holds them
    (a run's round); otherwise they are read. `violations`: (agent, severity, first step index) of
    the violations first seen in the range and not dismissed, when the caller knows them (a run's
    round whose steps no other transaction can see yet); otherwise they are read.
    """
    marks: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    blocked_tools: dict[str, set[str]] = defaultdict(set)
    steps = {"index__gte": first_index} if first_index else {}
    if end_index is not None:
        steps["index__lt"] = end_index
    if held is not None:
        held = [s for s in held if s["index"] >= first_index and (end_index is None or s["index"] < end_index)]
        decisions = [(s["index"], s["agent"], s["tool"], s.get("attributes"))
                     for s in sorted(held, key=lambda s: s["index"]) if s["kind"] == "decision"]
    else:
        decisions = list(
            Step.objects.filter(episode=episode, kind="decision", **steps)
            .order_by("index")
            .values_list("index", "agent", "tool", "attributes")
        )
    for index, agent, tool, attributes in decisions:
        if not agent:
            continue
        verdict = (attributes or {}).get("verdict")
        marks[agent]["decisions.total"].append(index)
        if verdict in _VERDICT_METRIC:
            marks[agent][_VERDICT_METRIC[verdict]].append(index)
        if verdict in ("block", "terminate"):
            if verdict == "terminate":
                marks[agent]["decisions.blocked"].append(index)
            if tool in blocked_tools[agent]:
                marks[agent]["forbidden.repeats"].append(index)
            blocked_tools[agent].add(tool)
    agents = set(episode.agents) | set(marks)
    for agent, severity, first_step in _violations(episode, steps) if violations is None else violations:
        targets = [agent] if agent else (list(agents) if len(agents) == 1 else [])
        for target in targets:
            agents.add(target)
            index = first_step if first_step is not None else 0
            marks[target]["violations.total"].append(index)
            marks[target][f"violations.{severity}"].append(index)
            if severity in SEVERE:
                marks[target]["violations.severe"].append(index)
    if held is not None:
        step_counts = dict(Counter(s["agent"] for s in held if s["agent"]))
    else:
        step_counts = dict(
            Step.objects.filter(episode=episode, **steps).exclude(agent="").values_list("agent")
            .annotate(n=Count("id")).values_list("agent", "n")
        )
    if metrics is None:
        metrics = (episode.outcome or {}).get("metrics") or {}
    out = {}
    for agent in sorted(a for a in agents if a):
        agent_marks = {k: sorted(v) for k, v in marks[agent].items()}
        values: dict[str, float] = {k: len(v) for k, v in agent_marks.items()}
        total = values.get("decisions.total", 0)
        values["block_rate"] = round(values.get("decisions.blocked", 0) / total, 6) if total else 0
        values["steps"] = step_counts.get(agent, 0)
        values.update(_metric_values(metrics, agent))
        out[agent] = {"values": values, "marks": agent_marks}
    return out


def oracle_episode(*, episode: Episode) -> dict[str, str | None]:
    """Records each agent's evidence for the episode once and runs the Controller on it.

    Idempotent: evidence is unique per (agent, episode), and only a newly recorded round moves
    an agent. Returns {agent: new state or None}.
    """
    moves: dict[str, str | None] = {}
    played_in_rounds = set(
        Evidence.objects.filter(episode=episode, round__isnull=False).values_list("agent", flat=True).distinct()
    )
    for agent, evidence in episode_evidence(episode=episode).items():
        if agent in played_in_rounds:
            continue  # its rounds were its governance rounds (oracle_round)
        with transaction.atomic():
            row, created = Evidence.objects.get_or_create(
                project_id=episode.project_id, agent=agent, episode=episode,
                defaults={"values": evidence["values"], "marks": evidence["marks"]},
            )
            if created:
                moves[agent] = controller.agent_observe(project=episode.project, agent=agent, evidence=row)
    return moves


# No savepoint when nested (a run's round): a round that cannot be recorded aborts the transaction.
@transaction.atomic(savepoint=False)
def oracle_round(*, episode: Episode, number: int, first_index: int, end_index: int, metrics: dict,
                 agents: list[str], graph: GraphVersion | None = None, held: list[dict] | None = None,
                 histories: dict[str, list[dict]] | None = None,
                 run_agents: controller.RunAgents | None = None,
                 violations: list[tuple[str, str, int | None]] | None = None) -> dict[str, str | None]:
    """Records round `number` of a running episode for each of `agents` and runs the Controller.

    The round's evidence is its steps [first_index, end_index), the violations first seen there and
    `metrics` ({name: number} for every agent, or {name: {agent: number}}). `graph`: the version to
    interpret (default: the project's active one). Idempotent per (agent, episode, round).
    `held`: the round's steps, when the caller holds them (see episode_evidence). `histories`: the
    caller's copy of each agent's recent evidence (controller.agent_history), kept current here.
    `run_agents`: the run's Controller (controller.RunAgents, with `histories`), in place of
    agent_observe per agent. `violations`: see episode_evidence.
    """
    found = episode_evidence(episode=episode, first_index=first_index, end_index=end_index, metrics=metrics,
                             held=held, violations=violations)
    now = timezone.now()
    rows = {}
    for agent in agents:
        quiet = {"values": {"decisions.total": 0, "block_rate": 0, "steps": 0, **_metric_values(metrics, agent)},
                 "marks": {}}  # an agent with no step in the round still lives through it
        evidence = found.get(agent) or quiet
        rows[agent] = Evidence(project_id=episode.project_id, agent=agent, episode=episode, round=number,
                               values=evidence["values"], marks=evidence["marks"], created_at=now)
    # One statement for the round; a row already recorded (the round replayed) is left alone.
    with connection.cursor() as cursor:
        cursor.execute(_EVIDENCE_SQL, [episode.project_id, episode.pk, number, now, list(rows),
                                       [Jsonb(r.values) for r in rows.values()],
                                       [Jsonb(r.marks) for r in rows.values()]])
        created = dict((agent, pk) for pk, agent in cursor.fetchall())
    moves: dict[str, str | None] = {}
    for agent in agents:
        if agent not in created:
            continue
        row = rows[agent]
        row.pk, row._state.adding = created[agent], False
        history = None
        if histories is not None:
            history = histories.get(agent)
            if history is None:  # read once: it holds this round's row already
                history = histories[agent] = controller.agent_history(project=episode.project, agent=agent)
            else:
                history.insert(0, {"values": row.values, "marks": row.marks})
                del history[controller.HISTORY_ROUNDS:]
        if run_agents is not None and history is not None:
            moves[agent] = run_agents.observe(agent=agent, evidence=row, history=history)
        else:
            moves[agent] = controller.agent_observe(project=episode.project, agent=agent, evidence=row, graph=graph,
                                                    history=history)
    return moves


_EVIDENCE_SQL = """
INSERT INTO governance_evidence (project_id, agent, episode_id, round, "values", marks, created_at)
SELECT %s::bigint, e.agent, %s::bigint, %s::integer, e.v, e.m, %s::timestamptz
  FROM unnest(%s::text[], %s::jsonb[], %s::jsonb[]) AS e (agent, v, m)
ON CONFLICT DO NOTHING
RETURNING id, agent"""


def _metric_values(metrics: dict, agent: str) -> dict[str, float]:
    """`metric.<name>` values for `agent` from reported metrics (a number, or {agent: number})."""
    values: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            value = value.get(agent)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[f"metric.{name}"] = value
    return values


def oracle_sweep(*, since: timedelta = timedelta(days=2)) -> int:
    """Beat entry: ended episodes the Oracle has not seen yet (a lost task, a worker down), then decay."""
    from apps.tenancy.models import Project

    seen = Evidence.objects.values("episode_id")
    pending = (
        Episode.objects.exclude(status=EpisodeStatus.RUNNING)
        .filter(ended_at__gte=timezone.now() - since)
        .exclude(id__in=seen)
        .select_related("project")
    )
    count = 0
    for episode in pending.iterator():
        oracle_episode(episode=episode)
        count += 1
    for project in Project.objects.all():
        controller.agents_decay(project=project)
    return count
