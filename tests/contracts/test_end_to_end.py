"""The whole path over HTTP: publish a runtime contract, stream an injection trace, get stopped."""

import pytest

from apps.contracts.models import Verdict
from apps.reviews.models import Violation
from tests.contracts.builders import FLOW
from tests.contracts.trace_builders import INJECTION, steps

pytestmark = pytest.mark.django_db


def test_an_injection_streamed_over_the_api_is_stopped_and_later_calls_are_terminated(
        project, make_key, api, django_capture_on_commit_callbacks):
    admin = api(make_key(project, ["admin"]))
    assert admin.post("/api/v1/contracts", {"source": FLOW}, format="json").status_code == 201
    runtime = api(make_key(project, ["ingest", "decide", "read"]))
    assert runtime.post("/api/v1/episodes", {"external_id": "pay-1"}, format="json").status_code == 201  # created
    trace = [{k: v for k, v in s.items() if v not in (None, "", {})} for s in steps(*INJECTION)]
    with django_capture_on_commit_callbacks(execute=True):
        r = runtime.post("/api/v1/episodes/pay-1/steps", {"steps": trace[:3]}, format="json")
    assert r.status_code == 200, r.content
    assert runtime.get("/api/v1/episodes/pay-1").json()["status"] == "running"
    with django_capture_on_commit_callbacks(execute=True):
        runtime.post("/api/v1/episodes/pay-1/steps", {"steps": trace[3:5]}, format="json")
    episode = runtime.get("/api/v1/episodes/pay-1").json()
    assert episode["status"] == "terminated" and episode["violation_count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        decided = runtime.post("/api/v1/decide", {"episode": "pay-1", "agent": "assistant", "tool": "send_money",
                                                  "arguments": {"amount": 1}}, format="json")
    assert decided.json()["verdict"] == "terminate"
    verdicts = runtime.get("/api/v1/contracts/verdicts", {"episode": "pay-1"}).json()["results"]
    assert [(v["status"], v["first_violating_step"], v["at_runtime"]) for v in verdicts] == [("fail", 4, True)]
    # The follow-up "terminate" answer is a consequence, not a second violation.
    assert Violation.objects.filter(episode__external_id="pay-1").count() == 1
    assert Verdict.objects.count() == 1
