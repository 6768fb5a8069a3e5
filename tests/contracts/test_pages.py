"""Contract pages: members read, admins publish, reviewers run what-if; outsiders get 404."""

import pytest
from django.utils import timezone

from apps.contracts import services, whatif
from apps.contracts.models import ContractVersion, WhatIfJob
from tests.contracts.builders import NO_DELETE, ingest, publish
from tests.contracts.trace_builders import act, decision, say

pytestmark = pytest.mark.django_db


def test_a_viewer_sees_the_contract_list_without_the_publish_form(project, viewer, login):
    publish(project, NO_DELETE)
    r = login(viewer).get("/p/acme/contracts/")
    assert r.status_code == 200 and b"no-deletes" in r.content and b"Publish a contract" not in r.content


def test_the_list_says_so_when_there_are_no_contracts(project, viewer, login):
    assert b"No contracts yet" in login(viewer).get("/p/acme/contracts/").content


def test_an_admin_publishes_from_the_page_and_gets_the_fragment(project, admin, login):
    r = login(admin).post("/p/acme/contracts/", {"source": NO_DELETE}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and b"<html" not in r.content and b"Published" in r.content
    assert ContractVersion.objects.filter(project=project).count() == 1


def test_publishing_a_broken_contract_shows_the_field_and_line(project, admin, login):
    r = login(admin).post("/p/acme/contracts/", {"source": "name: b\nrules:\n  - never: {tol: x}\n"},
                          headers={"HX-Request": "true"})
    assert b"rules[0].never.tol" in r.content and b"line 3" in r.content
    assert not ContractVersion.objects.exists()


def test_a_reviewer_cannot_publish(project, reviewer, login):
    r = login(reviewer).post("/p/acme/contracts/", {"source": NO_DELETE})
    assert r.status_code == 403 and not ContractVersion.objects.exists()


def test_the_detail_page_lists_verdicts_with_the_first_violating_step(project, viewer, login):
    publish(project, NO_DELETE)
    services.episode_check(episode=ingest(project, "ep-x", [say("hi"), act("delete_file")], end="completed"))
    r = login(viewer).get("/p/acme/contracts/no-deletes/", {"status": "fail"}, headers={"HX-Request": "true"})
    assert b"ep-x" in r.content and b"<html" not in r.content
    assert b"at step 1" in r.content


def test_an_outsider_gets_404_on_every_contract_page(project, outsider, login):
    publish(project, NO_DELETE)
    job = whatif.whatif_create(project=project, actor="a", source=NO_DELETE)
    client = login(outsider)
    for path in ("/p/acme/contracts/", "/p/acme/contracts/no-deletes/", "/p/acme/contracts/whatif/",
                 f"/p/acme/contracts/whatif/{job.pk}/", "/p/acme/contracts/metrics/"):
        assert client.get(path).status_code == 404, path


def test_a_job_of_another_project_is_404_even_for_its_own_members(project, other_project, outsider, login):
    job = whatif.whatif_create(project=project, actor="a", source=NO_DELETE)
    assert login(outsider).get(f"/p/globex/contracts/whatif/{job.pk}/").status_code == 404


def test_a_reviewer_starts_a_what_if_and_is_sent_to_its_progress(project, reviewer, login,
                                                                django_capture_on_commit_callbacks):
    ingest(project, "e1", [act("delete_file")], end="completed")
    with django_capture_on_commit_callbacks(execute=True):
        r = login(reviewer).post("/p/acme/contracts/whatif/", {"kind": "contract", "source": NO_DELETE, "last": "10"})
    job = WhatIfJob.objects.get()
    assert r.status_code == 302 and r.url.endswith(f"/whatif/{job.pk}/")
    page = login(reviewer).get(r.url, headers={"HX-Request": "true"})
    assert b"e1" in page.content and b"every 1s" not in page.content  # done: polling stops


def test_a_running_job_polls_for_progress(project, viewer, login):
    job = whatif.whatif_create(project=project, actor="a", source=NO_DELETE)
    r = login(viewer).get(f"/p/acme/contracts/whatif/{job.pk}/")
    assert b'hx-trigger="every 1s"' in r.content


def test_a_viewer_cannot_start_or_cancel_a_job(project, viewer, login):
    job = whatif.whatif_create(project=project, actor="a", source=NO_DELETE)
    client = login(viewer)
    assert client.post("/p/acme/contracts/whatif/", {"source": NO_DELETE}).status_code == 403
    assert client.post(f"/p/acme/contracts/whatif/{job.pk}/cancel/").status_code == 403


def test_what_if_form_errors_name_the_field(project, reviewer, login):
    r = login(reviewer).post("/p/acme/contracts/whatif/", {"kind": "contract", "contract": "missing"})
    assert r.status_code == 200 and b"version:" in r.content


def test_the_metrics_page_embeds_the_chart_figure(project, viewer, login, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(project, "e1", [decision("pay", "block", rule="r")], end="completed")
    r = login(viewer).get("/p/acme/contracts/metrics/")
    assert r.status_code == 200 and b'id="governance-figure"' in r.content and b"charts.js" in r.content


def test_the_metrics_page_has_an_empty_state(project, viewer, login):
    assert b"No episodes in the last" in login(viewer).get("/p/acme/contracts/metrics/").content


def test_cancelling_a_running_job_shows_it_is_stopping(project, reviewer, login):
    job = whatif.whatif_create(project=project, actor="a", source=NO_DELETE)
    WhatIfJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())  # a live worker
    r = login(reviewer).post(f"/p/acme/contracts/whatif/{job.pk}/cancel/", headers={"HX-Request": "true"})
    assert r.status_code == 200 and b"Cancelling" in r.content and b"<html" not in r.content
    job.refresh_from_db()
    assert job.cancel_requested and job.status == "running"
