"""Trace signal receivers of the contracts app: thin, they only enqueue (the signals fire after commit).

The trace is already committed when they run, so a broker outage must not turn a stored batch
into an error for the runtime: the enqueue failure is logged and `manage.py contracts_check
--missing` catches up later. (New steps are checked by the reviews app's steps task, which runs
decision violations and live runtime contracts together.)
"""

import logging

logger = logging.getLogger(__name__)


def on_episode_ended(sender, episode, **kwargs) -> None:
    from apps.contracts.tasks import episode_check_task

    try:
        episode_check_task.delay(episode.pk)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("could not enqueue the contract check of episode %s", episode.pk)
