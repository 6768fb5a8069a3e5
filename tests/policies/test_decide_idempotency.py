"""Idempotency keys on /decide and /decide/message: a retry gets the first decision and writes nothing."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import GovernanceLogOutbox
from apps.core.models import TaskOutbox
from apps.policies.models import Approval, Decision
from apps.tenancy.models import IdempotencyKey
from apps.traces.models import Step

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int, int]:
    return (Decision.objects.count(), Step.objects.count(), GovernanceLogOutbox.objects.count(),
            TaskOutbox.objects.count())


def _keyed(decider, key, tool="send_money", arguments=None, path="/api/v1/decide", **extra):
    body = {"episode": "ep-1", "agent": "banker", "tool": tool, "arguments": arguments or {}, **extra}
    return decider.post(path, body, format="json", headers={"Idempotency-Key": key})


def test_a_retried_block_returns_the_first_decision_and_stores_nothing_more(bank_policy, decider):
    first = _keyed(decider, "call-1", arguments={"recipient": "FR9", "amount": 5})
    before = _counts()
    again = _keyed(decider, "call-1", arguments={"recipient": "FR9", "amount": 5})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["verdict"] == "block"
    assert _counts() == before  # no decision, step, log event or check task a second time


def test_a_retry_reads_in_one_statement_and_writes_nothing(bank_policy, decider):
    _keyed(decider, "call-1", tool="read_balance")
    with CaptureQueriesContext(connection) as queries:
        _keyed(decider, "call-1", tool="read_balance")
    # the key, the context and the stored answer in one read, then the decision to show
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]


def test_a_keyed_decision_costs_no_more_statements_than_an_unkeyed_one(bank_policy, decider, decide):
    decide("read_balance")
    with CaptureQueriesContext(connection) as queries:
        assert _keyed(decider, "call-1", tool="read_balance").json()["verdict"] == "allow"
    assert len(queries.captured_queries) == 2
    assert IdempotencyKey.objects.get().response == {"decision_id": Decision.objects.latest("id").id}


def test_the_same_key_with_another_call_is_a_422_naming_the_header(bank_policy, decider):
    _keyed(decider, "call-1", tool="read_balance")
    before = _counts()
    response = _keyed(decider, "call-1", tool="read_statement")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["message"].startswith("Idempotency-Key:")
    assert _counts() == before


def test_the_key_can_be_sent_as_a_field(bank_policy, decider):
    body = {"episode": "ep-1", "agent": "banker", "tool": "read_balance", "idempotency_key": "call-7"}
    first = decider.post("/api/v1/decide", body, format="json").json()
    assert _keyed(decider, "call-7", tool="read_balance").json()["decision_id"] == first["decision_id"]
    assert Decision.objects.count() == 1


def test_header_and_field_naming_different_keys_are_a_400_naming_the_field(bank_policy, decider):
    response = _keyed(decider, "call-1", tool="read_balance", idempotency_key="call-2")
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["error"]["fields"]
    assert Decision.objects.count() == 0


@pytest.mark.parametrize("key", ["x" * 201, "tab\there", "naïve"])
def test_a_malformed_key_is_a_400_naming_the_header(bank_policy, decider, key):
    response = decider.post("/api/v1/decide", {"episode": "ep-1", "tool": "read_balance"}, format="json",
                            HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert Decision.objects.count() == 0


def test_keys_are_scoped_to_the_api_key(bank_policy, decider, api, make_key, project):
    first = _keyed(decider, "call-1", tool="read_balance").json()
    other = api(make_key(project, scopes=["decide"]))
    second = _keyed(other, "call-1", tool="read_balance").json()
    assert second["decision_id"] != first["decision_id"]


def test_keys_are_scoped_to_the_project(bank_policy, decider, api, make_key, other_project):
    _keyed(decider, "call-1", tool="read_balance")
    response = _keyed(api(make_key(other_project, scopes=["decide"])), "call-1", tool="read_balance")
    assert response.status_code == 200  # decided there (no policy: blocked), not another project's answer
    assert response.json()["rule"] == "no-policy"


def test_a_retried_ask_returns_the_same_pending_decision_and_one_approval(bank_policy, decider):
    first = _keyed(decider, "ask-1", tool="update_password", arguments={"user": "bob"}).json()
    again = _keyed(decider, "ask-1", tool="update_password", arguments={"user": "bob"}).json()
    assert (again["decision_id"], again["verdict"], again["deadline"]) == (
        first["decision_id"], "ask", first["deadline"])
    assert Approval.objects.count() == 1


def test_a_retried_call_with_an_explicit_step_index_replays(bank_policy, decider):
    first = _keyed(decider, "n-1", tool="read_balance", step_index=4).json()
    assert _keyed(decider, "n-1", tool="read_balance", step_index=4).json() == first
    assert Decision.objects.count() == 1


def test_a_retried_message_decision_returns_the_first(bank_policy, decider):
    path = "/api/v1/decide/message"
    body = {"episode": "ep-1", "agent": "banker", "content": "hello", "to": "user"}
    first = decider.post(path, body, format="json", headers={"Idempotency-Key": "m-1"})
    again = decider.post(path, body, format="json", headers={"Idempotency-Key": "m-1"})
    assert first.status_code == 200 and first.json() == again.json()
    assert Decision.objects.count() == 1
    # the same key on /decide is another request
    assert _keyed(decider, "m-1", tool="read_balance").status_code == 422


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_under_one_key_store_one_decision(bank_policy, make_key, project):
    from rest_framework.test import APIClient

    raw = make_key(project, scopes=["decide"])
    answers: list[dict] = []
    barrier = threading.Barrier(4)

    def call() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        barrier.wait()
        try:
            answers.append(_keyed(client, "race-1", arguments={"recipient": "FR9", "amount": 5}).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({a["decision_id"] for a in answers}) == 1, answers
    assert Decision.objects.count() == 1
    assert Step.objects.filter(kind="decision").count() == 1
