"""Many writers at once keep one unbroken, gap-free chain per project."""

import multiprocessing
import threading
from urllib.parse import quote

import pytest
from django.db import connection

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_append
from apps.audit.verification import governance_verify
from tests.audit.processes import append_in_process

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


def test_concurrent_appends_from_processes_stay_gap_free_and_chained(project):
    settings_db = connection.settings_dict
    auth = settings_db["USER"] + (f":{quote(settings_db['PASSWORD'])}" if settings_db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{settings_db['HOST']}:{settings_db['PORT']}/{settings_db['NAME']}"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=append_in_process, args=(url, project.id, 30)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    seqs = list(GovernanceLogEntry.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 121))
    assert governance_verify(project=project).ok
