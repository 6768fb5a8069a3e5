"""Concurrent graph publishes of one project are serialised: each gets its number, one is active."""

import threading

import pytest
from django.db import connection

from apps.governance.graphs import graph_publish
from apps.governance.models import GraphVersion

pytestmark = pytest.mark.django_db(transaction=True)

GRAPH = "name: g\ninitial: ok\nstates:\n  ok: {description: 'variant {n}'}\ntransitions: []\n"


def test_eighteen_simultaneous_publishes_all_succeed_with_distinct_numbers(project):
    barrier = threading.Barrier(18)
    errors: list[Exception] = []

    def publish(n: int) -> None:
        try:
            barrier.wait()
            graph_publish(project=project, source=GRAPH.replace("{n}", str(n % 12)), actor="alice")
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(18)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(GraphVersion.objects.filter(project=project).values_list("number", flat=True))
    assert numbers == list(range(1, 13))  # twelve distinct sources; repeats return their version
    assert GraphVersion.objects.filter(project=project, in_force=True).count() == 1
