"""Episode-scoped narrowing: an overlay policy that can only take permissions away (see engine.decide)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.policies import engine, sql
from apps.policies.models import EpisodeGuard
from apps.tenancy.models import Project
from apps.traces import services as traces


@transaction.atomic
def narrowing_add(*, project: Project, episode_external_id: str, source: str) -> EpisodeGuard:
    """Narrows the policy for one episode, under the guard's row lock; adding the same overlay twice is a no-op."""
    try:
        overlay = engine.compile_policy(source, narrowing=True)
    except engine.PolicyError as exc:
        raise ValidationError({"policy": [str(i) for i in exc.issues]}) from None
    episode, _ = traces.episode_upsert(project=project, external_id=episode_external_id)
    guard = sql.guard_row_locked(episode=episode)
    if all(n["digest"] != overlay.digest for n in guard.narrowings):
        narrowings = [*guard.narrowings, {"digest": overlay.digest, "source": source,
                                          "created_at": timezone.now().isoformat()}]
        EpisodeGuard.objects.filter(pk=guard.pk).update(narrowings=narrowings, updated_at=timezone.now(),
                                                         rev=F("rev") + 1)
        guard.narrowings = narrowings
    return guard
