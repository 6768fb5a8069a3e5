"""Publishing governance graphs: immutable, content-hashed versions; publishing is logged."""

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max

from apps.audit.services import governance_log_append
from apps.core.events import LogEvent
from apps.governance import controller
from apps.governance.graph import Graph, GraphError, compile_graph
from apps.governance.models import GraphVersion
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project

_GRAPH_LOCK_NAMESPACE = 7_302  # pg_advisory_xact_lock(ns, project_id); the log's is 7_301


def _lock_graphs(*, project_id: int) -> None:
    """Serialises publishing and activation per project until the transaction ends: concurrent
    publishes would otherwise race for the next version number and the one active version."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_GRAPH_LOCK_NAMESPACE, project_id])


def graph_check(*, source: str) -> Graph:
    """Compiles or raises ValidationError({"source": ["line N: ...", ...]})."""
    try:
        return compile_graph(source)
    except GraphError as exc:
        raise ValidationError({"source": [str(p) for p in exc.problems]}) from None


@transaction.atomic
def graph_publish(*, project: Project, source: str, actor: Actor, activate: bool = True) -> GraphVersion:
    """Publishes `source` as a new immutable version, or returns the version with the same content.

    The digest hashes the canonical manifest, so reformatting the YAML does not make a new version.
    """
    actor = actor_name(actor)
    graph = graph_check(source=source)
    _lock_graphs(project_id=project.pk)
    version = GraphVersion.objects.filter(project=project, digest=graph.digest).first()
    if version is None:
        last = GraphVersion.objects.filter(project=project, name=graph.name).aggregate(n=Max("number"))["n"] or 0
        version = GraphVersion.objects.create(
            project=project, name=graph.name, number=last + 1, digest=graph.digest, source=source,
            manifest=graph.manifest, created_by=actor,
        )
        governance_log_append(
            project=project, event=LogEvent.GRAPH_PUBLISHED, actor=actor,
            data={"graph": graph.name, "number": version.number, "digest": version.digest},
        )
    if activate and not version.in_force:
        graph_activate(version=version, actor=actor)
    return version


@transaction.atomic
def graph_activate(*, version: GraphVersion, actor: Actor) -> GraphVersion:
    """Puts `version` in force for the project; agents move onto it (see controller.agents_rehome)."""
    actor = actor_name(actor)
    _lock_graphs(project_id=version.project_id)
    GraphVersion.objects.select_for_update().filter(project_id=version.project_id, in_force=True).update(
        in_force=False
    )
    version.in_force = True
    version.save(update_fields=["in_force"])
    governance_log_append(
        project=version.project, event=LogEvent.GRAPH_ACTIVATED, actor=actor,
        data={"graph": version.name, "number": version.number, "digest": version.digest},
    )
    controller.agents_rehome(version=version, actor=actor)
    return version
