"""Reads for the governance app. `agent_governance_state` sits on the /decide hot path."""

import json

from django.db import connection
from django.db.models import QuerySet

from apps.core.documents import CompileCache
from apps.governance.graph import Graph, compile_graph
from apps.governance.models import AgentState, GraphVersion, Sanction
from apps.tenancy.models import Project


def agent_governance_state(*, project: Project, agent: str) -> dict:
    """What the policy engine must enforce for `agent` right now.

    {"state": str|None, "suspended": bool, "revoked_tools": [glob, ...],
     "arg_bounds": {tool_glob: {arg: {"minimum"/"maximum"/...: value}}}}

    One query on the (project, agent) unique index; the row holds the effect of every active
    sanction, rewritten whenever a sanction is applied or lifted.
    """
    project_id = getattr(project, "id", project)
    # A plain statement: building the ORM query cost several times more CPU than running it.
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL, [project_id, agent])
        row = cursor.fetchone()
    if row is None:
        return {"state": None, "suspended": False, "revoked_tools": [], "arg_bounds": {}}
    state, suspended, revoked, bounds = row
    if isinstance(bounds, str):  # Django hands jsonb to its own fields as text
        bounds = json.loads(bounds)
    return {"state": state, "suspended": suspended, "revoked_tools": list(revoked), "arg_bounds": bounds}


_STATE_SQL = (
    "SELECT state, suspended, revoked_tools, arg_bounds FROM governance_agentstate WHERE project_id = %s AND agent = %s"
)


def agent_state_list(*, project: Project) -> QuerySet[AgentState]:
    return AgentState.objects.filter(project=project).select_related("graph").order_by("agent")


def agent_state_get(*, project: Project, agent: str) -> AgentState | None:
    return AgentState.objects.filter(project=project, agent=agent).select_related("graph").first()


def sanction_list(*, project: Project, agent: str | None = None, active: bool | None = None) -> QuerySet[Sanction]:
    qs = Sanction.objects.filter(project=project)
    if agent:
        qs = qs.filter(agent=agent)
    if active is not None:
        qs = qs.filter(lifted_at__isnull=active)
    return qs.order_by("-applied_at", "-id")


def graph_active(*, project: Project) -> GraphVersion | None:
    return GraphVersion.objects.filter(project=project, in_force=True).first()


def graph_version_list(*, project: Project) -> QuerySet[GraphVersion]:
    return GraphVersion.objects.filter(project=project).order_by("-created_at", "-id")


def graph_version_get(*, project: Project, digest: str) -> GraphVersion | None:
    return GraphVersion.objects.filter(project=project, digest=digest).first()


_COMPILED = CompileCache(compile_graph, size=64)


def graph_compiled(version: GraphVersion) -> Graph:
    """The compiled graph of a stored version (cached by content digest: versions never change)."""
    return _COMPILED.get(digest=version.digest, source=version.source)
