"""Trace signal receivers: thin, they only enqueue checks (the signals fire after commit)."""


def on_steps_appended(sender, episode, first_index: int, count: int, **kwargs) -> None:
    from apps.contracts.tasks import episode_steps_task

    episode_steps_task.delay(episode.pk, first_index)


def on_episode_ended(sender, episode, **kwargs) -> None:
    from apps.contracts.tasks import episode_check_task

    episode_check_task.delay(episode.pk)
