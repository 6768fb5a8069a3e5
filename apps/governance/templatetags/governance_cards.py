"""The project overview's governance card: graph in force, sanctioned agents, log head."""

from django import template

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
        "head": selectors.log_head(project=project), "checkpoint": selectors.checkpoint_latest(project=project),
    }
