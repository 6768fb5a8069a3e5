"""Trace signal receivers: thin, they only enqueue checks (the signals fire after commit).

The trace is already committed when they run, so a broker outage must not turn a stored batch
into an error for the runtime: the enqueue failure is logged and `manage.py contracts_check
--missing` catches up later. Inside a web request the task is published once the response has
been sent (apps.core.after_response), so a runtime never waits for the broker.
"""

import logging

from apps.core.after_response import after_response

logger = logging.getLogger(__name__)


# Does the project check runtime contracts? (/decide reads this with its context, see
# apps/policies/hotpath.py, and passes the answer on as `work`.)
def runtime_contracts_sql(project: str) -> str:
    """An SQL condition: the project (an SQL expression) checks runtime contracts."""
    return ("EXISTS (SELECT 1 FROM contracts_contract c JOIN contracts_contractversion v ON v.id = c.current_id"
            f" WHERE c.project_id = {project} AND c.enabled AND v.runtime)")


# Is there work for episode_steps_task? Only when the project checks runtime contracts or the new
# steps hold a stopping decision. Asking costs one indexed statement; enqueueing costs a broker round
# trip on every /decide, most of which are routine allows.
_WORK_SQL = f"""
SELECT {runtime_contracts_sql('%(project)s')}
    OR EXISTS (SELECT 1 FROM traces_step s
                WHERE s.episode_id = %(episode)s AND s.kind = 'decision'
                  AND s.index >= %(first)s AND s.index < %(end)s
                  AND s.attributes ->> 'verdict' = ANY(%(verdicts)s))
"""


def _has_work(episode, first_index: int, count: int) -> bool:
    from django.db import connection

    from apps.reviews.services import STOPPING_VERDICTS

    with connection.cursor() as cursor:
        cursor.execute(_WORK_SQL, {"project": episode.project_id, "episode": episode.pk, "first": first_index,
                                   "end": first_index + count, "verdicts": list(STOPPING_VERDICTS)})
        return cursor.fetchone()[0]


def on_steps_appended(sender, episode, first_index: int, count: int, work: bool | None = None, **kwargs) -> None:
    """`work`, when the sender knows it: whether the steps need checking (see _WORK_SQL)."""
    try:
        if not (_has_work(episode, first_index, count) if work is None else work):
            return
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("could not tell whether episode %s needs runtime checks", episode.pk)
        return
    after_response(lambda: _enqueue(episode.pk, first_index))


def _enqueue(episode_id: int, first_index: int) -> None:
    from apps.contracts.tasks import episode_steps_task

    try:
        episode_steps_task.delay(episode_id, first_index)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("could not enqueue runtime checks for episode %s", episode_id)


def on_episode_ended(sender, episode, **kwargs) -> None:
    from apps.contracts.tasks import episode_check_task

    try:
        episode_check_task.delay(episode.pk)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("could not enqueue the contract check of episode %s", episode.pk)
