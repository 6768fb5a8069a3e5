"""Signal receivers: thin, they enqueue the Oracle."""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def on_episode_ended(sender, episode, **kwargs) -> None:
    from apps.governance.tasks import oracle_episode_task

    # A short delay lets contract checks started by the same event record their violations first.
    delay = getattr(settings, "WARDEN_ORACLE_DELAY_SECONDS", 30)
    try:
        oracle_episode_task.apply_async((episode.id,), countdown=delay)
    except Exception:  # the broker being down must not fail the runtime's request; the sweep catches up
        logger.exception("could not enqueue the governance oracle for episode %s", episode.id)
