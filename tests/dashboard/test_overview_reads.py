"""The overview counts the log without chaining it: the flush task does the writing."""

import pytest

from apps.audit.models import GovernanceLogOutbox
from apps.audit.services import governance_log_defer

pytestmark = pytest.mark.django_db


def test_the_overview_counts_unchained_decisions_and_leaves_them_in_the_outbox(login, viewer, project):
    governance_log_defer(project=project, event="decision", actor="key:runtime", data={"decision_id": 1})
    summary = login(viewer).get("/p/acme/").context["summary"]
    assert summary["log"]["entries"] == 1
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 1
