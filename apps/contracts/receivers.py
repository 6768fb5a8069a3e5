"""Trace signal receivers of the contracts app: thin, they record the checks a trace write calls for.

Signals fire inside the write's transaction, so the outbox row (apps/core/outbox.py) commits with
the episode's end: a broker outage or a process dying after the response delays a check, never
loses it. (New steps are checked by the reviews app's steps task, which runs decision violations and
live runtime contracts together.)
"""

from apps.core.outbox import task_enqueue


def on_episode_ended(sender, episode, **kwargs) -> None:
    from apps.contracts.tasks import episode_check_task

    task_enqueue(task=episode_check_task, args=[episode.pk])
