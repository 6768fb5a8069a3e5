"""Signal receivers: thin, they enqueue the Oracle or flush the log outbox."""

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


def on_request_finished(sender, **kwargs) -> None:
    """Chains the outbox rows this process deferred, once the response has been sent.

    request_finished fires when the server closes the response, after the body was written, so
    the client does not wait for it. Throttled to one flush per WARDEN_LOG_FLUSH_INTERVAL seconds;
    a negative interval turns it off (the beat task and every reader still chain the rows).
    """
    from apps.governance.services import log_flush_dirty

    interval = settings.WARDEN_LOG_FLUSH_INTERVAL
    if interval < 0:
        return
    try:
        log_flush_dirty(min_interval=interval)
    except Exception:  # the response is gone: nobody could handle it; the beat flush catches up
        logger.exception("governance log flush after a request failed")
