"""Reads of decisions."""

import pytest

from apps.policies import selectors
from apps.policies.models import Decision

pytestmark = pytest.mark.django_db


def test_decisions_are_listed_newest_first(bank_policy, decide, project):
    decide("read_balance")
    decide("read_mail")
    assert [d.tool for d in selectors.decision_list(project=project)] == ["read_mail", "read_balance"]
    assert Decision.objects.count() == 2
