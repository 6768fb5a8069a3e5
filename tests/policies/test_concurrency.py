"""Concurrent decisions of one episode count in turn: a per-episode limit holds under races."""

import threading

import pytest
from django.db import connection

from apps.policies import decisions, services
from apps.policies.models import Decision
from apps.policies.records import DecideInput
from tests.policies.conftest import BANK

pytestmark = pytest.mark.django_db(transaction=True)


def test_six_simultaneous_transfers_allow_exactly_three(project, admin):
    services.policy_publish(project=project, source=BANK, actor=admin)
    decisions.decision_make(project=project, actor="t",
                            data=DecideInput(episode="race", agent="banker", tool="read_x", arguments={}))
    barrier = threading.Barrier(6)
    errors = []

    def transfer():
        try:
            barrier.wait()
            decisions.decision_make(project=project, actor="t", data=DecideInput(
                episode="race", agent="banker", tool="send_money", arguments={"recipient": "UK1", "amount": 1}))
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=transfer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdicts = sorted(Decision.objects.filter(tool="send_money").values_list("verdict", flat=True))
    assert verdicts == ["allow"] * 3 + ["block"] * 3
