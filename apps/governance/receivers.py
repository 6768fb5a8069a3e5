"""Signal receivers: thin, they record that the Oracle must see an ended episode."""

from django.conf import settings

from apps.core.outbox import task_enqueue


def on_episode_ended(sender, episode, **kwargs) -> None:
    from apps.governance.tasks import oracle_episode_task

    # A short delay lets contract checks started by the same event record their violations first.
    delay = getattr(settings, "WARDEN_ORACLE_DELAY_SECONDS", 30)
    task_enqueue(task=oracle_episode_task, args=[episode.id], countdown=delay)
