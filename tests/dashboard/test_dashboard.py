"""The overview's charts: time range picker, decisions, violations, blocked tools, agents, /decide
latency, the log's verification; Plotly's JavaScript served from the installed package."""

import json
from datetime import timedelta
from pathlib import Path

import plotly
import pytest
from django.conf import settings
from django.utils import timezone

from apps.audit.models import GovernanceLogOutbox
from apps.audit.services import governance_log_append
from apps.governance.models import AgentState
from apps.policies.models import Decision
from apps.reviews.models import Violation
from tests.audit.builders import defer_log
from tests.factories import EpisodeFactory

pytestmark = pytest.mark.django_db


def _decision(project, episode, verdict, tool="send_money", latency_us=100, days_ago=0):
    d = Decision.objects.create(project=project, episode=episode, tool=tool, verdict=verdict, outcome=verdict,
                                latency_us=latency_us)
    Decision.objects.filter(pk=d.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


@pytest.fixture
def governed(project, other_project):
    episode = EpisodeFactory(project=project)
    for i in range(10):
        _decision(project, episode, "allow", tool="read_balance", latency_us=(i + 1) * 100)
    _decision(project, episode, "block", tool="send_money")
    _decision(project, episode, "block", tool="send_money")
    _decision(project, episode, "terminate", tool="delete_account")
    _decision(project, episode, "block", tool="old_tool", days_ago=20)
    Violation.objects.create(project=project, episode=episode, source="contract", name="no-leak", severity="high")
    AgentState.objects.create(project=project, agent="banker", state="probation")
    AgentState.objects.create(project=project, agent="trader", state="frozen", suspended=True)
    other = EpisodeFactory(project=other_project)
    _decision(other_project, other, "block", tool="secret_tool")


def _figures(body: str) -> dict:
    out = {}
    for name in ("chart-decisions", "chart-violations", "chart-blocked", "chart-agents", "chart-latency"):
        start = body.index(f'<script id="{name}" type="application/json">') + len(f'<script id="{name}" type="application/json">')
        out[name] = json.loads(body[start:body.index("</script>", start)])
    return out


def test_the_overview_draws_every_chart_from_this_projects_data(login, viewer, project, governed):
    body = login(viewer).get("/p/acme/").content.decode()
    figures = _figures(body)
    blocked = figures["chart-blocked"]["data"][0]
    assert blocked["y"] == ["delete_account", "send_money"] and blocked["x"] == [1, 2]  # not old_tool, not secret_tool
    assert sum(sum(t["y"]) for t in figures["chart-decisions"]["data"]) == 13
    assert figures["chart-violations"]["data"][2]["y"] == ["no-leak"]
    assert figures["chart-agents"]["data"][0]["x"] == ["frozen (suspended)", "probation"]
    assert "13 decisions · p50 0." in body and 'data-testid="latency-figures"' in body


def test_the_range_picker_widens_the_window(login, viewer, project, governed):
    body = login(viewer).get("/p/acme/", {"range": "30d"}).content.decode()
    assert _figures(body)["chart-blocked"]["data"][0]["y"][0] == "old_tool"
    assert 'href="?range=30d"' in body and 'aria-current="true">30d' in body


def test_the_range_picker_swaps_only_the_charts_over_htmx(login, viewer, project, governed):
    response = login(viewer).get("/p/acme/", {"range": "24h", "partial": "charts"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'id="charts"' in body and 'id="summary"' not in body


def test_an_unknown_range_is_a_400_naming_the_field(login, viewer, project):
    response = login(viewer).get("/p/acme/", {"range": "forever"})
    assert response.status_code == 400 and "range: must be one of" in response.content.decode()


def test_an_empty_project_says_so_instead_of_empty_charts(login, viewer, project):
    body = login(viewer).get("/p/acme/").content.decode()
    assert "No decisions in this range." in body and "No violations in this range." in body


def test_the_log_status_reports_a_verified_chain(login, viewer, project):
    governance_log_append(project=project, event="test.event", actor="t", data={})
    body = login(viewer).get("/p/acme/dashboard/log-status").content.decode()
    assert "verified" in body and "1 entry checked" in body


def test_the_log_status_is_a_read_that_counts_what_waits_in_the_outbox(login, viewer, project):
    governance_log_append(project=project, event="test.event", actor="t", data={})
    defer_log(project, 2)
    body = login(viewer).get("/p/acme/dashboard/log-status").content.decode()
    assert "1 entry checked" in body and "2 committed events waiting to be chained" in body
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 2


def test_the_log_status_is_for_members_only(login, outsider, project):
    assert login(outsider).get("/p/acme/dashboard/log-status").status_code == 404


def test_plotly_js_is_served_from_the_installed_package_not_a_copy_in_the_repo(client):
    assert not (Path(settings.BASE_DIR) / "static" / "vendor" / "plotly.min.js").exists()
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    served = b"".join(response.streaming_content) if response.streaming else response.content
    packaged = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    assert served == packaged
