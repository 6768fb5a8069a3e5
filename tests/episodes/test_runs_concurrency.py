"""Runs of one project played at the same time, each on its own database connection, as two worker
processes play an experiment's runs."""

import threading

import pytest
from django.db import connection

from apps.audit.verification import governance_verify
from apps.episodes import services
from apps.episodes.models import Run
from apps.governance.models import Evidence
from apps.policies.models import Decision
from apps.traces.models import Step

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _not_enqueued(monkeypatch):
    """Created runs wait for the test's threads (eager Celery would play them inside run_create)."""
    monkeypatch.setattr(services, "run_enqueue", lambda *, run: None)


def _spec(key: str, regime: str, seed: int, rounds: int) -> dict:
    return {"id": key, "environment": {"kind": "cournot", "rounds": rounds, "costs": 10},
            "agents": [{"name": "f1", "kind": "cartel"}, {"name": "f2", "kind": "tit_for_tat"}],
            "regime": regime, "seed": seed}


def _play_at_once(run_ids: list[int]) -> list[str]:
    """Executes the runs in threads released together; each thread has its own connection."""
    start = threading.Barrier(len(run_ids))
    results: dict[int, str] = {}

    def play(run_id: int) -> None:
        try:
            start.wait()
            results[run_id] = services.run_execute(run_id=run_id, worker=f"thread {run_id}")
        except Exception as exc:  # a failure must show in the assertion, not vanish with the thread
            results[run_id] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=play, args=(run_id,)) for run_id in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return [results.get(run_id, "still running") for run_id in run_ids]


@pytest.mark.parametrize("regime", ["institutional", "ungoverned"])
def test_runs_of_one_project_played_at_once_all_complete_without_deadlock(project, regime):
    runs = [services.run_create(project=project, data=_spec(f"c-{regime}-{i}", regime, i, 30), actor="alice")[0]
            for i in range(4)]
    statuses = _play_at_once([run.id for run in runs])
    errors = list(Run.objects.filter(pk__in=[r.pk for r in runs]).values_list("error", flat=True))
    assert statuses == ["completed"] * len(runs), errors
    for run in Run.objects.filter(pk__in=[r.pk for r in runs]):
        indexes = list(Step.objects.filter(episode=run.episode).order_by("index").values_list("index", flat=True))
        assert indexes == list(range(run.episode.step_count))
        decisions = Step.objects.filter(episode=run.episode, kind="decision").count()
        assert Decision.objects.filter(episode=run.episode).count() == decisions > 0
        if regime == "institutional":
            assert Evidence.objects.filter(episode=run.episode).count() == 60
    assert governance_verify(project=project).ok


def _lock_waiters() -> int:
    """Backends of this database waiting for a lock (read on a connection of its own)."""
    import psycopg
    from django.db import connections

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
                         autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND wait_event_type = 'Lock'").fetchone()[0]


def test_a_run_starting_while_another_commits_a_governed_round_does_not_deadlock(project, monkeypatch):
    """Run A holds the project's log lock in its round transaction (the Controller logged agents
    joining the graph) when run B starts; B must not hold a lock A needs to commit (the project row,
    which every inserted row's foreign key check reads at commit)."""
    from apps.episodes import governed

    first, second = (services.run_create(project=project, data=_spec(f"d-{i}", "institutional", i, 3),
                                         actor="alice")[0] for i in range(2))
    a_holds_log_lock, release = threading.Event(), threading.Event()
    govern = governed.RoundGovernance._govern

    def govern_then_wait(self, checkpoint):
        govern(self, checkpoint)
        if self.run.pk == first.pk and checkpoint.round == 1:
            a_holds_log_lock.set()
            release.wait(timeout=60)

    monkeypatch.setattr(governed.RoundGovernance, "_govern", govern_then_wait)
    results: dict[int, str] = {}

    def play(run_id: int, after: threading.Event | None) -> None:
        try:
            if after is not None:
                assert after.wait(timeout=60)
            results[run_id] = services.run_execute(run_id=run_id, worker=f"thread {run_id}")
        except Exception as exc:
            results[run_id] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=play, args=(first.id, None)),
               threading.Thread(target=play, args=(second.id, a_holds_log_lock))]
    for thread in threads:
        thread.start()
    assert a_holds_log_lock.wait(timeout=120), results
    for _ in range(600):  # until B waits behind A (for the log lock), then let A commit
        if _lock_waiters():
            break
        threading.Event().wait(0.05)
    release.set()
    for thread in threads:
        thread.join(timeout=300)
    errors = dict(Run.objects.filter(pk__in=[first.pk, second.pk]).values_list("key", "error"))
    assert [results.get(first.id), results.get(second.id)] == ["completed", "completed"], errors
    assert governance_verify(project=project).ok


def test_a_run_plays_while_another_transaction_publishes_its_policy(project):
    """Creating runs publishes (or re-finds) their regime's policy under the policy's row lock while
    other runs of the project play and commit; that lock must not block their commits."""
    from django.db import transaction

    from apps.episodes.regimes import ALLOW_ALL_POLICY
    from apps.policies.services import policy_publish

    run = services.run_create(project=project, data=_spec("p-0", "ungoverned", 0, 3), actor="alice")[0]
    holding, played = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def publish_and_hold() -> None:
        try:
            with transaction.atomic():
                policy_publish(project=project, source=ALLOW_ALL_POLICY, actor="alice", bind_first=False)
                holding.set()
                outcome["held_until_played"] = played.wait(timeout=60)
        finally:
            connection.close()

    publisher = threading.Thread(target=publish_and_hold)
    publisher.start()
    assert holding.wait(timeout=60)
    try:
        outcome["status"] = services.run_execute(run_id=run.id, worker="test")
    finally:
        played.set()
        publisher.join(timeout=120)
    assert outcome == {"status": "completed", "held_until_played": True}
