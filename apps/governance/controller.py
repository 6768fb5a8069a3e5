"""The Controller: applies graph transitions and sanctions to agents, atomically and idempotently.

Every change happens under the agent's row lock in one transaction with its log entries, and the
agent's effective sanctions (what /decide reads) are rewritten in that same transaction.
`RunAgents` is the same Controller for the agents of one run, held across a run's rounds.
"""

from collections.abc import Callable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.audit.services import governance_log_append, governance_log_defer, governance_log_flush
from apps.core.events import LogEvent
from apps.governance.graph import Graph, engine
from apps.governance.models import AgentState, Evidence, GraphVersion, Sanction, SanctionKind
from apps.governance.selectors import graph_compiled
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project

HISTORY_ROUNDS = 50  # the most rounds any "for K rounds" may look back

# How the Controller writes the log: governance_log_append (under the project's log lock, held to
# the end of the transaction) or governance_log_defer (into the outbox, chained later).
LogWrite = Callable[..., object]


def _lock(project: Project, agent: str) -> AgentState:
    state, _ = AgentState.objects.select_for_update().get_or_create(project=project, agent=agent)
    return state


def _sanction_spec(sanction: Sanction) -> dict:
    return {"kind": sanction.kind, "tool": sanction.tool, "arguments": sanction.details}


def _refresh_effect(agent_state: AgentState) -> None:
    active = Sanction.objects.filter(project_id=agent_state.project_id, agent=agent_state.agent, lifted_at__isnull=True)
    effect = engine.effect(_sanction_spec(s) for s in active.order_by("applied_at", "id"))
    agent_state.suspended = effect["suspended"]
    agent_state.revoked_tools = effect["revoked_tools"]
    agent_state.arg_bounds = effect["arg_bounds"]
    agent_state.updated_at = timezone.now()
    agent_state.save()


def _log_sanction(sanction: Sanction, event: str, actor: str, reason: str,
                  log: LogWrite = governance_log_append) -> None:
    log(
        project=sanction.project, event=event, actor=actor,
        data={"sanction_id": sanction.id, "agent": sanction.agent, "kind": sanction.kind, "tool": sanction.tool,
              "details": sanction.details, "source": sanction.source, "state": sanction.graph_state,
              "reason": reason},
    )


def _lift(sanction: Sanction, *, actor: str, reason: str, now: datetime, log: LogWrite = governance_log_append) -> None:
    sanction.lifted_at, sanction.lifted_by, sanction.lift_reason = now, actor, reason
    sanction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    _log_sanction(sanction, LogEvent.SANCTION_LIFTED, actor, reason, log)


def _enter(agent_state: AgentState, *, version: GraphVersion, graph: Graph, target: str, actor: str,
           trigger: dict, now: datetime, log: LogWrite = governance_log_append) -> None:
    """Moves the agent to `target`: lifts the old state's sanctions, applies the new state's, logs it."""
    previous = agent_state.state
    for sanction in Sanction.objects.filter(
        project_id=agent_state.project_id, agent=agent_state.agent, source="graph", lifted_at__isnull=True
    ):
        sanction.project = agent_state.project  # the log entry's project, without reading it again
        _lift(sanction, actor=actor, reason=f"left state {previous!r}", now=now, log=log)
    for spec in graph.states[target].sanctions:
        sanction = Sanction.objects.create(
            project=agent_state.project, agent=agent_state.agent, kind=spec["kind"], tool=spec.get("tool", ""),
            details=spec.get("arguments") or spec.get("details") or {}, source="graph", graph_state=target,
            reason=f"state {target!r} of graph {graph.name}", applied_by=actor, applied_at=now,
        )
        _log_sanction(sanction, LogEvent.SANCTION_APPLIED, actor, sanction.reason, log)
    agent_state.graph = version
    agent_state.state = target
    agent_state.entered_at = agent_state.renewed_at = now
    agent_state.counters = {"rounds_in_state": 0, "clean_streak": 0}
    _refresh_effect(agent_state)
    log(
        project=agent_state.project, event=LogEvent.GOVERNANCE_TRANSITION, actor=actor,
        data={"agent": agent_state.agent, "from": previous, "to": target, "graph": version.digest, **trigger},
    )


def _active_graph(project: Project) -> tuple[GraphVersion, Graph] | None:
    version = GraphVersion.objects.filter(project=project, in_force=True).first()
    return (version, graph_compiled(version)) if version else None


def agent_history(*, project: Project, agent: str) -> list[dict]:
    """The agent's last HISTORY_ROUNDS rounds of evidence, newest first, as transitions read them."""
    return _history(project, agent)


def _history(project: Project, agent: str) -> list[dict]:
    rows = (
        Evidence.objects.filter(project=project, agent=agent)
        .order_by("-created_at", "-id")
        .values("values", "marks")[:HISTORY_ROUNDS]
    )
    return list(rows)


@transaction.atomic
def agent_observe(*, project: Project, agent: str, evidence: Evidence, graph: GraphVersion | None = None,
                  history: list[dict] | None = None) -> str | None:
    """One Controller step after the Oracle recorded a round; returns the new state if it moved.

    `graph`: the version to interpret; default the project's active one (a run names its own).
    `history`: agent_history as it stands with `evidence` recorded, when the caller keeps it.
    """
    active = (graph, graph_compiled(graph)) if graph is not None else _active_graph(project)
    if active is None:
        return None
    version, graph = active
    agent_state = _lock(project, agent)
    return _observe(agent_state, version=version, graph=graph, evidence=evidence, save=True,
                    history=_history(project, agent) if history is None else history)


def _observe(agent_state: AgentState, *, version: GraphVersion, graph: Graph, evidence: Evidence,
             history: list[dict], save: bool, log: LogWrite = governance_log_append) -> str | None:
    """agent_observe on a row the caller locked. save=False leaves the counters and renewed_at to
    the caller (a transition writes the whole row anyway)."""
    now = timezone.now()
    if agent_state.state not in graph.states:
        _enter(agent_state, version=version, graph=graph, target=graph.initial, actor="controller",
               trigger={"reason": "joined the graph"}, now=now, log=log)
    round_ = {"values": evidence.values, "marks": evidence.marks}
    counters = dict(agent_state.counters or {})
    counters["rounds_in_state"] = counters.get("rounds_in_state", 0) + 1
    counters["clean_streak"] = counters.get("clean_streak", 0) + 1 if engine.is_clean(round_) else 0
    agent_state.counters = counters
    if engine.renews(graph, state=agent_state.state, round_=round_):
        agent_state.renewed_at = now
    if save:
        agent_state.save(update_fields=["counters", "renewed_at"])
    transition = engine.next_transition(graph, state=agent_state.state, history=history,
                                        clean_streak=counters["clean_streak"])
    if transition is None:
        return None
    _enter(agent_state, version=version, graph=graph, target=transition.target, actor="controller", now=now,
           trigger={"transition_line": transition.line, "condition": transition.label,
                    "episode": evidence.episode.external_id, "evidence": evidence.values}, log=log)
    return transition.target


_COUNTERS_SQL = """
UPDATE governance_agentstate AS s
   SET counters = v.counters, renewed_at = v.renewed_at
  FROM unnest(%s::bigint[], %s::jsonb[], %s::timestamptz[]) AS v (id, counters, renewed_at)
 WHERE s.id = v.id"""


class RunAgents:
    """The Controller for the agents of one run (`<agent>@<run>`), whose rounds one executor plays.

    What agent_observe does per agent and round, with fewer round trips: `observe` locks every
    agent's row in one statement at the first round of a transaction (so a reviewer's move or
    sanction committed in between is read), then works on the rows held; the counters of the
    transaction's rounds are written by `save`, in one statement. Log entries go to the outbox
    (governance_log_defer), so the project's log lock is not held across the rounds of a
    transaction; `save` chains them under that lock, once, just before the commit. Call `save` as
    the transaction's last write, and `release` after it ends.
    """

    def __init__(self, *, project: Project, version: GraphVersion, agents: list[str]):
        self.project = project
        self.version = version
        self.graph = graph_compiled(version)
        self.agents = sorted(agents)
        self._held: dict[str, AgentState] | None = None
        self._logged = False

    def _log(self, **entry: object) -> None:
        governance_log_defer(**entry)  # type: ignore[arg-type]
        self._logged = True

    def _lock(self) -> dict[str, AgentState]:
        if self._held is None:
            rows = AgentState.objects.select_for_update().filter(project=self.project, agent__in=self.agents)
            held = {row.agent: row for row in rows.order_by("agent")}
            missing = [agent for agent in self.agents if agent not in held]
            if missing:  # an agent's first round: its row, as agent_observe's get_or_create makes it
                AgentState.objects.bulk_create([AgentState(project=self.project, agent=a) for a in missing],
                                               ignore_conflicts=True)
                held.update((row.agent, row) for row in rows.filter(agent__in=missing))
            for row in held.values():
                row.project = self.project
            self._held = held
        return self._held

    def observe(self, *, agent: str, evidence: Evidence, history: list[dict]) -> str | None:
        """agent_observe(project, agent, evidence, graph=version, history=history) for one of the run's agents."""
        return _observe(self._lock()[agent], version=self.version, graph=self.graph, evidence=evidence,
                        history=history, save=False, log=self._log)

    def save(self) -> None:
        """The transaction's last writes: the held agents' counters, then the log entries it deferred."""
        if self._held:
            rows = list(self._held.values())
            with connection.cursor() as cursor:
                cursor.execute(_COUNTERS_SQL, [[r.pk for r in rows], [Jsonb(r.counters) for r in rows],
                                               [r.renewed_at for r in rows]])
        if self._logged:
            governance_log_flush(project_id=self.project.id)
            self._logged = False

    def release(self) -> None:
        """The transaction ended (committed or not): the next round locks and reads the rows again."""
        self._held = None
        self._logged = False


def agents_decay(*, project: Project, now: datetime | None = None) -> int:
    """Moves agents whose decaying tier was not renewed in time; returns how many moved."""
    active = _active_graph(project)
    if active is None:
        return 0
    version, graph = active
    now = now or timezone.now()
    decaying = [name for name, state in graph.states.items() if state.decay]
    moved = 0
    for agent_id in AgentState.objects.filter(project=project, state__in=decaying).values_list("id", flat=True):
        with transaction.atomic():
            agent_state = AgentState.objects.select_for_update().get(id=agent_id)
            since = max(filter(None, [agent_state.entered_at, agent_state.renewed_at]), default=now)
            target = engine.decay_target(graph, state=agent_state.state, since=since, now=now)
            if target:
                _enter(agent_state, version=version, graph=graph, target=target, actor="controller", now=now,
                       trigger={"reason": "tier decayed", "since": since.isoformat()})
                moved += 1
    return moved


def agents_rehome(*, version: GraphVersion, actor: Actor) -> None:
    """After a graph version comes into force: agents in a state it no longer has restart at its
    initial state; the others keep their state with that state's sanctions as the new version says."""
    actor = actor_name(actor)
    graph = graph_compiled(version)
    now = timezone.now()
    for agent_state in AgentState.objects.select_for_update().filter(project_id=version.project_id).exclude(
        state__isnull=True
    ):
        target = agent_state.state if agent_state.state in graph.states else graph.initial
        _enter(agent_state, version=version, graph=graph, target=target, actor=actor, now=now,
               trigger={"reason": "graph version changed"})


@transaction.atomic
def agent_move(*, project: Project, agent: str, to: str, actor: Actor, reason: str) -> AgentState:
    """A reviewer's decision along one of the graph's `by: reviewer` paths (e.g. a restorative path)."""
    actor = actor_name(actor)
    if not reason.strip():
        raise ValidationError({"reason": ["Say why."]})
    active = _active_graph(project)
    if active is None:
        raise ValidationError({"to": ["No governance graph is active in this project."]})
    version, graph = active
    agent_state = _lock(project, agent)
    allowed = engine.reviewer_targets(graph, state=agent_state.state)
    if to not in allowed:
        raise ValidationError(
            {"to": [f"The graph has no reviewer path from {agent_state.state!r} to {to!r}"
                    f" (allowed: {', '.join(allowed) or 'none'})."]}
        )
    _enter(agent_state, version=version, graph=graph, target=to, actor=actor, now=timezone.now(),
           trigger={"reason": reason, "by": "reviewer"})
    return agent_state


def _check_sanction(kind: str, tool: str, details: dict, reason: str) -> None:
    errors = {}
    if kind not in SanctionKind.values:
        errors["kind"] = [f"One of {', '.join(SanctionKind.values)}."]
    if kind in (SanctionKind.REVOKE, SanctionKind.TIGHTEN) and not tool.strip():
        errors["tool"] = ["Name the tool (a glob such as send_* works)."]
    if kind == SanctionKind.TIGHTEN and (
        not isinstance(details, dict) or not details or not all(isinstance(v, dict) and v for v in details.values())
    ):
        errors["details"] = ['Give argument bounds, e.g. {"amount": {"maximum": 100}}.']
    if kind == SanctionKind.FINE:
        amount = details.get("amount") if isinstance(details, dict) else None
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            errors["details"] = ['Give a positive amount, e.g. {"amount": 50}.']
    if not reason.strip():
        errors["reason"] = ["Say why."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def sanction_apply(*, project: Project, agent: str, kind: str, actor: Actor, reason: str, tool: str = "",
                   details: dict | None = None) -> Sanction:
    """A reviewer's sanction by hand; takes effect on the agent's next /decide."""
    actor = actor_name(actor)
    details = details or {}
    agent = agent.strip()
    if not agent:
        raise ValidationError({"agent": ["Name the agent."]})
    _check_sanction(kind, tool, details, reason)
    agent_state = _lock(project, agent)
    sanction = Sanction.objects.create(
        project=project, agent=agent, kind=kind, tool=tool.strip(), details=details, source="manual",
        reason=reason.strip(), applied_by=actor,
    )
    _refresh_effect(agent_state)
    _log_sanction(sanction, LogEvent.SANCTION_APPLIED, actor, sanction.reason)
    return sanction


@transaction.atomic
def sanction_lift(*, sanction: Sanction, actor: Actor, reason: str) -> Sanction:
    actor = actor_name(actor)
    if not reason.strip():
        raise ValidationError({"reason": ["Say why."]})
    agent_state = _lock(sanction.project, sanction.agent)
    sanction = Sanction.objects.select_for_update().get(pk=sanction.pk)
    if sanction.lifted_at is not None:
        raise ValidationError({"sanction": ["This sanction was already lifted."]})
    _lift(sanction, actor=actor, reason=reason.strip(), now=timezone.now())
    _refresh_effect(agent_state)
    return sanction
