"""Signal receivers of the reviews app: thin, they record or enqueue (connected in ReviewsConfig.ready).

Failed contract verdicts become violations in the transaction that stores them. New steps are
checked by one task per batch (decision violations, then live runtime contracts); a trace is
already committed when steps_appended fires, so a broker outage must not turn a stored batch into
an error for the runtime: the enqueue failure is logged and `manage.py contracts_check --missing`
catches up later. Inside a web request the task is published once the response has been sent
(apps.core.after_response), so a runtime never waits for the broker.
"""

import logging

from django.db import connection

from apps.contracts.sql import runtime_contracts_sql
from apps.core.after_response import after_response
from apps.policies import engine as policy_engine
from apps.reviews import services
from apps.reviews.models import Source

logger = logging.getLogger(__name__)


def on_contract_failed(sender, episode, name: str, version: str, severity: str, first_step_index: int | None,
                       evidence: dict, agent: str, **kwargs) -> None:
    services.violation_record(episode=episode, source=Source.CONTRACT, name=name, version=version,
                              severity=severity, first_step_index=first_step_index, evidence=evidence, agent=agent)


# Is there work for episode_steps_task? Only when the project checks runtime contracts or the new
# steps hold a stopping decision. Asking costs one indexed statement; enqueueing costs a broker round
# trip on every /decide, most of which are routine allows. (/decide evaluates the runtime-contracts
# half with its context, registered as this receiver's work condition, and passes `work`.)
_WORK_SQL = f"""
SELECT {runtime_contracts_sql('%(project)s')}
    OR EXISTS (SELECT 1 FROM traces_step s
                WHERE s.episode_id = %(episode)s AND s.kind = 'decision'
                  AND s.index >= %(first)s AND s.index < %(end)s
                  AND s.attributes ->> 'verdict' = ANY(%(verdicts)s))
"""


def _has_work(episode, first_index: int, count: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_WORK_SQL, {"project": episode.project_id, "episode": episode.pk, "first": first_index,
                                   "end": first_index + count, "verdicts": sorted(policy_engine.STOPPING)})
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
    from apps.reviews.tasks import episode_steps_task

    try:
        episode_steps_task.delay(episode_id, first_index)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("could not enqueue runtime checks for episode %s", episode_id)
