"""Idempotency keys on step batches and JSONL imports; their retention (apps/tenancy/idempotency.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.tenancy.idempotency import idempotency_purge
from apps.tenancy.models import IdempotencyKey
from apps.traces.models import Step
from workers.celery_app import app

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes"
UNNUMBERED = [{"kind": "message", "actor": "user", "content": "pay my rent"},
              {"kind": "action", "agent": "bot", "tool": "send_money", "arguments": {"amount": 900}}]


@pytest.fixture
def ingest(project, make_key, api):
    client = api(make_key(project, scopes=["ingest", "read"]))
    assert client.post(EPISODES, {"external_id": "run-1"}, format="json").status_code == 201
    return client


def _batch(client, key, steps=UNNUMBERED, episode="run-1", **body):
    return client.post(f"{EPISODES}/{episode}/steps", {"steps": steps, **body}, format="json",
                       headers={"Idempotency-Key": key})


def test_a_retried_unnumbered_batch_is_appended_once_and_answered_the_same(ingest):
    first = _batch(ingest, "batch-1")
    again = _batch(ingest, "batch-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"external_id": "run-1", "received": 2, "written": 2, "step_count": 2}
    assert Step.objects.count() == 2


def test_without_a_key_an_unnumbered_batch_sent_twice_is_appended_twice(ingest):
    for _ in range(2):
        ingest.post(f"{EPISODES}/run-1/steps", {"steps": UNNUMBERED}, format="json")
    assert Step.objects.count() == 4


def test_the_same_key_with_another_batch_is_a_422_and_writes_nothing(ingest):
    _batch(ingest, "batch-1")
    response = _batch(ingest, "batch-1", steps=UNNUMBERED[:1])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Step.objects.count() == 2


def test_the_same_key_for_another_episode_is_a_422(ingest):
    ingest.post(EPISODES, {"external_id": "run-2"}, format="json")
    _batch(ingest, "batch-1")
    assert _batch(ingest, "batch-1", episode="run-2").status_code == 422


def test_the_key_can_be_sent_in_the_body(ingest):
    for _ in range(2):
        response = ingest.post(f"{EPISODES}/run-1/steps", {"steps": UNNUMBERED, "idempotency_key": "b-7"},
                               format="json")
        assert response.status_code == 200
    assert Step.objects.count() == 2


def test_a_refused_batch_records_no_key_so_the_corrected_batch_can_use_it(ingest):
    bad = [{"kind": "action", "tool": 5}]
    assert _batch(ingest, "batch-1", steps=bad).status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert _batch(ingest, "batch-1").status_code == 200
    assert Step.objects.count() == 2


def test_a_malformed_key_on_a_batch_is_a_400_naming_the_header(ingest):
    response = _batch(ingest, "\x7f")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert Step.objects.count() == 0


def test_a_retried_import_answers_the_first_counts(project, make_key, api):
    client = api(make_key(project, scopes=["ingest"]))
    body = ('{"type": "episode", "external_id": "imp-1"}\n'
            '{"type": "step", "episode": "imp-1", "index": 0, "kind": "message", "actor": "user", "content": "hi"}\n')
    answers = [client.generic("POST", "/api/v1/traces/import", body, content_type="application/x-ndjson",
                               headers={"Idempotency-Key": "imp-1"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert Step.objects.count() == 1
    other = client.generic("POST", "/api/v1/traces/import", body.replace("hi", "ho"),
                           content_type="application/x-ndjson", headers={"Idempotency-Key": "imp-1"})
    assert other.status_code == 422


def test_keys_past_their_retention_are_purged(ingest, settings):
    _batch(ingest, "old")
    _batch(ingest, "new", steps=UNNUMBERED[:1])
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    # after its key is gone, the same key is a new request
    assert _batch(ingest, "old").json()["written"] == 2


def test_a_key_is_kept_for_the_configured_hours(ingest, settings):
    settings.WARDEN_IDEMPOTENCY_TTL_HOURS = 2
    _batch(ingest, "batch-1")
    row = IdempotencyKey.objects.get()
    assert timedelta(hours=2) - (row.expires_at - row.created_at) < timedelta(seconds=1)


def test_beat_purges_idempotency_keys():
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "apps.tenancy.tasks.idempotency_purge_task" in schedule
