"""Signal receivers of the reviews app: thin, they record (connected in ReviewsConfig.ready).

Failed contract verdicts become violations in the transaction that stores them. New steps are
checked by one task per batch (decision violations, then live runtime contracts), promised in the
batch's own transaction through the task outbox (apps/core/outbox.py): a broker outage or a
process dying after the response delays the check, never loses it. Inside a web request the task
is published once the response has been sent, so a runtime never waits for the broker.
"""

from django.db import connection

from apps.contracts.sql import runtime_contracts_sql
from apps.core.outbox import task_enqueue
from apps.policies import engine as policy_engine
from apps.reviews import services
from apps.reviews.models import Source


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
    from apps.reviews.tasks import episode_steps_task

    if _has_work(episode, first_index, count) if work is None else work:
        task_enqueue(task=episode_steps_task, args=[episode.pk, first_index])
