"""Trace events for other apps. Both are sent from `transaction.on_commit`, after the writes commit.

    steps_appended.send(sender=Episode, episode=episode, first_index=int, count=int)
    episode_ended.send(sender=Episode, episode=episode)

Connect receivers in AppConfig.ready() and keep them thin: enqueue a Celery task with `.delay`.
`first_index` is the lowest index written and `count` how many steps were new; when a runtime
numbers its own steps the new ones need not be contiguous.
"""

from django.dispatch import Signal

steps_appended = Signal()
episode_ended = Signal()
