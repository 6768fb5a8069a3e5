"""The project overview's governance card: graph in force, sanctioned agents, log head."""

from django import template

from apps.audit import selectors as audit_selectors
from apps.governance import selectors
from apps.governance.models import AgentState

register = template.Library()


@register.inclusion_tag("governance/_overview_card.html")
def governance_card(project) -> dict:
    sanctioned = AgentState.objects.filter(project=project).exclude(
        suspended=False, revoked_tools=[], arg_bounds={}
    )
    return {
        "project": project, "graph": selectors.graph_active(project=project),
        "sanctioned": sanctioned.order_by("agent")[:5], "sanctioned_count": sanctioned.count(),
        "head": audit_selectors.log_head(project=project), "checkpoint": audit_selectors.checkpoint_latest(project=project),
    }
