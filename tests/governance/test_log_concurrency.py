"""Many writers at once keep one unbroken, gap-free chain per project."""

import threading

import pytest
from django.db import connection

from apps.governance.models import GovernanceLogEntry
from apps.governance.services import governance_log_append
from apps.governance.verification import governance_verify

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
PER_THREAD = 25


def _writer(project, worker: int, errors: list) -> None:
    try:
        for i in range(PER_THREAD):
            governance_log_append(project=project, event="decision", actor=f"w{worker}", data={"i": i})
    except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
        errors.append(exc)
    finally:
        connection.close()  # each thread has its own connection


def test_concurrent_appends_from_threads_stay_gap_free_and_chained(project, other_project):
    errors: list = []
    threads = [
        threading.Thread(target=_writer, args=(p, n, errors))
        for n in range(THREADS)
        for p in (project, other_project)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for p in (project, other_project):
        seqs = list(GovernanceLogEntry.objects.filter(project=p).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, THREADS * PER_THREAD + 1))
        assert governance_verify(project=p).ok
