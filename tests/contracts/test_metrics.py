"""Trace metrics per episode and aggregated over the project."""

import pytest

from apps.reviews import metrics
from tests.contracts.builders import NO_DELETE, ingest, publish
from tests.contracts.trace_builders import act, decision, say

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(project, django_capture_on_commit_callbacks):
    publish(project, NO_DELETE)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(project, "good", [decision("list", "allow"), act("list"), say("done")], end="completed",
               outcome={"success": True})
        ingest(project, "bad", [decision("delete_file", "allow"), act("delete_file"), say("oops")], end="completed",
               outcome={"success": False})
        ingest(project, "stopped", [decision("wire", "block", rule="no-wire"), decision("rm", "terminate", rule="k")],
               end="failed")


def test_episode_metrics_report_success_compliance_and_outcomes(project, history):
    from apps.traces.models import Episode

    m = metrics.episode_metrics(episode=Episode.objects.get(external_id="bad"))
    assert (m["task_success"], m["terminated_reliably"], m["compliance_rate"]) == (False, True, 0.0)
    assert m["governance_outcomes"]["allow"] == 1
    assert m["containment"] == {"contained": 0, "escaped": 1, "rate": 0.0, "measured": True, "unknown_because": None}


def test_project_metrics_aggregate_over_episodes(project, history):
    m = metrics.project_metrics(project=project)
    assert (m["episodes"], m["ended"]) == (3, 3)
    assert m["task_success_rate"] == 0.5
    assert m["termination_reliability"] == round(2 / 3, 4)
    assert m["verdicts"]["pass"] == 2 and m["verdicts"]["fail"] == 1
    assert m["compliance_rate"] == round(2 / 3, 4)
    assert m["governance_outcomes"] == {"allow": 2, "rewrite": 0, "ask": 0, "block": 1, "terminate": 1}
    # two stopped decisions contained, one contract violation escaped
    assert m["containment"] == {"contained": 2, "escaped": 1, "rate": round(2 / 3, 4), "measured": True,
                                "unknown_because": None}
    assert sum(row["outcomes"]["allow"] for row in m["series"]) == 2
    assert m["by_contract"] == {"no-deletes": {"pass": 2, "fail": 1, "inconclusive": 0,
                                              "compliance_rate": round(2 / 3, 4)}}


def test_project_metrics_cost_the_same_five_queries_for_any_number_of_rows(
        project, django_capture_on_commit_callbacks, django_assert_num_queries):
    publish(project, NO_DELETE)
    publish(project, NO_DELETE.replace("no-deletes", "no-deletes-2"))
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(12):
            ingest(project, f"ep-{i}", [decision("x", "allow"), decision("delete_file", "block", rule="r"),
                                        act("delete_file")], end="completed", outcome={"success": i % 2 == 0})
    with django_assert_num_queries(5):
        m = metrics.project_metrics(project=project, filters={"days": "7"})
    with django_assert_num_queries(5):
        m = metrics.project_metrics(project=project)
    assert m["episodes"] == 12 and m["governance_outcomes"]["block"] == 12
    assert set(m["by_contract"]) == {"no-deletes", "no-deletes-2"}
    assert sum(c["pass"] + c["fail"] for c in m["by_contract"].values()) == 24


def test_containment_is_unknown_not_perfect_when_no_contract_checked_the_episodes(
        other_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(other_project, "attacked", [decision("wire", "block", rule="no-wire"), act("send_money")],
               end="completed")
    containment = metrics.project_metrics(project=other_project)["containment"]
    assert (containment["contained"], containment["rate"], containment["measured"]) == (1, None, False)
    assert "no contract" in containment["unknown_because"]


def test_the_metrics_page_says_unknown_when_nothing_measured_containment(other_project, outsider, login):
    ingest(other_project, "attacked", [decision("wire", "block", rule="no-wire")], end="completed")
    page = login(outsider).get(f"/p/{other_project.slug}/contracts/metrics/").content.decode()
    assert "unknown" in page and "no contract checked" in page


def test_metrics_never_count_another_projects_episodes(project, other_project, history):
    ingest(other_project, "x", [decision("a", "block")], end="completed", outcome={"success": True})
    assert metrics.project_metrics(project=other_project)["episodes"] == 1
    assert metrics.project_metrics(project=project)["episodes"] == 3


def test_the_metrics_api_answers_with_a_read_key(project, history, make_key, api):
    body = api(make_key(project, ["read"])).get("/api/v1/contracts/metrics", {"days": "7"}).json()
    assert body["window_days"] == 7 and body["episodes"] == 3
    one = api(make_key(project, ["read"])).get("/api/v1/contracts/metrics/good").json()
    assert one["compliance_rate"] == 1.0


def test_the_chart_stacks_outcomes_and_plots_compliance(project, history):
    from apps.reviews.charts import governance_figure

    fig = governance_figure(metrics.project_metrics(project=project))
    names = [trace["name"] for trace in fig["data"]]
    assert names == ["allow", "rewrite", "ask", "block", "terminate", "contract compliance"]
    assert fig["data"][0]["y"] == [2] and fig["data"][-1]["yaxis"] == "y2"
