"""The project overview's violations card: open violations by severity, newest first."""

from django import template
from django.db.models import Count

from apps.reviews.models import SEVERITY_RANK, Status, Violation

register = template.Library()


@register.inclusion_tag("reviews/_overview_card.html")
def violations_card(project) -> dict:
    open_qs = Violation.objects.filter(project=project, status=Status.OPEN)
    counts = dict(open_qs.values_list("severity").annotate(n=Count("id")).values_list("severity", "n"))
    by_severity = sorted(counts.items(), key=lambda kv: -SEVERITY_RANK.get(kv[0], 0))
    return {"project": project, "by_severity": by_severity, "total": sum(counts.values()),
            "latest": open_qs.select_related("episode").order_by("-created_at", "-id")[:5]}
