"""How each ask in a replayed episode ended, for the replay page (registered in apps.py)."""

from collections.abc import Sequence

from django.template.loader import render_to_string

from apps.policies.models import Approval
from apps.traces.models import Episode, Step


def ask_outcomes(episode: Episode, steps: Sequence[Step]) -> dict[int, str]:
    """{step index: the answer} for the asks among `steps`: one query for the whole chunk."""
    asks = {s.attributes.get("decision_id"): s.index for s in steps
            if s.kind == "decision" and (s.attributes or {}).get("verdict") == "ask"}
    asks.pop(None, None)
    if not asks:
        return {}
    found = Approval.objects.filter(project_id=episode.project_id, pk__in=list(asks)).select_related("decision")
    return {asks[a.pk]: render_to_string("policies/_ask_outcome.html", {"approval": a}) for a in found}
