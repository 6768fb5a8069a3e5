"""POST /api/v1/decide end to end: each verdict, evidence, decision steps, the governance log."""

import time

import pytest

from apps.audit.models import GovernanceLogEntry, GovernanceLogOutbox
from apps.audit.services import governance_log_flush
from apps.policies.models import Decision, EpisodeGuard
from apps.traces.models import Episode, Step
from tests.factories import StepFactory

pytestmark = pytest.mark.django_db


def test_decide_allows_a_read_and_names_the_rule(bank_policy, decide):
    body = decide("read_balance").json()
    assert (body["verdict"], body["rule"], body["policy"]) == ("allow", "reads", bank_policy.digest)


def test_decide_blocks_transfer_to_unknown_recipient_with_the_policy_message(bank_policy, decide):
    body = decide("send_money", {"recipient": "FR9", "amount": 5}).json()
    assert (body["verdict"], body["message"]) == ("block", "recipient is not on the allow-list")


def test_decide_rewrites_an_oversized_invoice_payment(bank_policy, decide):
    body = decide("pay_invoice", {"amount": 5000, "invoice": "A1"}).json()
    assert (body["verdict"], body["arguments"]) == ("rewrite", {"amount": 100, "invoice": "A1"})


def test_decide_asks_a_human_and_stays_pending(bank_policy, decide):
    body = decide("update_password", {"user": "bob"}).json()
    assert (body["verdict"], body["status"], body["outcome"]) == ("ask", "pending", "ask")
    assert body["deadline"] is not None


def test_decide_terminates_the_episode(bank_policy, decide):
    body = decide("delete_account").json()
    assert body["verdict"] == "terminate"
    assert Episode.objects.get(external_id="ep-1").status == "terminated"


def test_every_later_call_of_a_terminated_episode_is_terminated(bank_policy, decide):
    decide("delete_account")
    body = decide("read_balance").json()
    assert (body["verdict"], body["rule"]) == ("terminate", "episode:terminated")


def test_decide_creates_an_unknown_episode(bank_policy, decide):
    decide("read_balance", episode="fresh-episode")
    assert Episode.objects.filter(external_id="fresh-episode").exists()


def test_each_decision_is_appended_to_the_episode_as_a_decision_step(bank_policy, decide):
    body = decide("send_money", {"recipient": "FR9", "amount": 5}).json()
    step = Step.objects.get(episode__external_id="ep-1", index=body["step_index"])
    assert (step.kind, step.actor, step.agent, step.tool) == ("decision", "governance", "banker", "send_money")
    assert step.attributes == {"verdict": "block", "rule": "known-recipients", "decision_id": body["decision_id"],
                               "policy": bank_policy.digest}
    assert step.result["verdict"] == "block" and step.result["message"] == "recipient is not on the allow-list"


def test_decision_steps_take_the_next_free_index(bank_policy, decide):
    first = decide("read_balance").json()["step_index"]
    second = decide("read_balance").json()["step_index"]
    assert second == first + 1


def test_a_runtime_can_place_the_decision_at_its_own_step_index(bank_policy, decide):
    body = decide("read_balance", step_index=7).json()
    assert body["step_index"] == 7
    assert Step.objects.get(episode__external_id="ep-1", index=7).kind == "decision"


def test_retrying_a_numbered_decision_returns_the_same_decision(bank_policy, decide):
    first = decide("read_balance", step_index=3).json()
    again = decide("read_balance", step_index=3).json()
    assert again["decision_id"] == first["decision_id"]
    assert Decision.objects.count() == 1


def test_a_step_index_holding_another_step_is_a_409_and_writes_nothing(bank_policy, decide):
    decide("read_balance", step_index=3)
    response = decide("read_mail", step_index=3)
    assert response.status_code == 409
    assert response.json()["error"]["index"] == 3
    assert Decision.objects.count() == 1


def test_allows_are_stored_as_lightweight_evidence(bank_policy, decide):
    decide("read_balance")
    d = Decision.objects.get()
    assert (d.tier, d.evidence) == ("light", {})
    assert d.latency_us > 0


def test_blocks_are_stored_with_full_evidence(bank_policy, decide):
    decide("send_money", {"recipient": "FR9", "amount": 5})
    d = Decision.objects.get()
    assert d.tier == "full"
    assert d.evidence["arguments_before"] == {"recipient": "FR9", "amount": 5}
    assert "recipient" in d.evidence["detail"]
    assert d.evidence["context"]["untrusted"] is False


def test_rewrites_keep_arguments_before_and_after(bank_policy, decide):
    decide("pay_invoice", {"amount": 5000})
    d = Decision.objects.get()
    assert (d.arguments, d.final_arguments) == ({"amount": 5000}, {"amount": 100})


def test_each_decision_is_recorded_in_the_governance_log(bank_policy, decide, project):
    body = decide("read_balance").json()
    assert governance_log_flush(project_id=project.id) == 1  # the outbox row written with the decision
    entry = GovernanceLogEntry.objects.filter(event="decision").get()
    assert entry.data == {"decision_id": body["decision_id"], "episode": "ep-1", "agent": "banker",
                          "tool": "read_balance", "verdict": "allow", "rule": "reads", "policy": bank_policy.digest}


@pytest.mark.django_db(transaction=True)
def test_decisions_reach_the_governance_log_in_the_background_without_any_reader(bank_policy, decide, settings):
    settings.WARDEN_LOG_FLUSH_INTERVAL = 0.05
    ids = [decide("read_balance").json()["decision_id"] for _ in range(3)]
    deadline = time.monotonic() + 10
    while GovernanceLogOutbox.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not GovernanceLogOutbox.objects.exists()  # chained by the web process's background thread
    logged = GovernanceLogEntry.objects.filter(event="decision").order_by("seq")
    assert [entry.data["decision_id"] for entry in logged] == ids


def test_a_fourth_transfer_in_one_episode_is_blocked(bank_policy, decide):
    verdicts = [decide("send_money", {"recipient": "UK1", "amount": 5}).json()["verdict"] for _ in range(4)]
    assert verdicts == ["allow", "allow", "allow", "block"]


def test_transfer_counts_are_per_episode(bank_policy, decide):
    for _ in range(3):
        decide("send_money", {"recipient": "UK1", "amount": 5})
    assert decide("send_money", {"recipient": "UK1", "amount": 5}, episode="ep-2").json()["verdict"] == "allow"


def test_untrusted_content_reported_by_the_runtime_blocks_transfers(bank_policy, decide):
    body = decide("send_money", {"recipient": "UK1", "amount": 5}, context={"untrusted": True}).json()
    assert body["verdict"] == "block"


def test_untrusted_content_in_the_trace_blocks_later_transfers(bank_policy, decide, project):
    decide("read_balance")
    episode = Episode.objects.get(external_id="ep-1")
    StepFactory(episode=episode, index=episode.step_count, kind="observation", provenance="untrusted")
    Episode.objects.filter(pk=episode.pk).update(step_count=episode.step_count + 1)
    assert decide("send_money", {"recipient": "UK1", "amount": 5}).json()["verdict"] == "block"
    assert EpisodeGuard.objects.get(episode=episode).untrusted is True


def test_without_any_policy_every_call_is_blocked(decide):
    body = decide("read_balance").json()
    assert (body["verdict"], body["rule"]) == ("block", "no-policy")


@pytest.mark.parametrize(("body", "field"), [
    ({"agent": "a", "tool": "t"}, "episode"),
    ({"episode": "e", "agent": "a"}, "tool"),
    ({"episode": "e", "tool": "t", "arguments": [1, 2]}, "arguments"),
    ({"episode": "e", "tool": "t", "step_index": -1}, "step_index"),
    ({"episode": "e", "tool": "t", "context": {"calls": 9}}, "calls"),
    ({"episode": "e", "tool": "x" * 201}, "tool"),
])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(bank_policy, decider, body, field):
    response = decider.post("/api/v1/decide", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert Decision.objects.count() == 0 and Episode.objects.count() == 0


def test_a_key_without_the_decide_scope_is_refused(bank_policy, api, make_key, project):
    client = api(make_key(project, scopes=["ingest"]))
    response = client.post("/api/v1/decide", {"episode": "e", "tool": "t"}, format="json")
    assert response.status_code == 403


def test_a_key_of_another_project_uses_that_projects_policy_and_episodes(bank_policy, decide, api, make_key,
                                                                      other_project):
    decide("read_balance", episode="shared-name")
    other = api(make_key(other_project, scopes=["decide"]))
    body = other.post("/api/v1/decide", {"episode": "shared-name", "tool": "read_balance"}, format="json").json()
    assert (body["verdict"], body["rule"]) == ("block", "no-policy")
    assert Episode.objects.filter(external_id="shared-name").count() == 2


def test_a_key_of_another_project_cannot_read_a_decision(bank_policy, decide, api, make_key, other_project):
    decision_id = decide("read_balance").json()["decision_id"]
    other = api(make_key(other_project, scopes=["decide", "read"]))
    assert other.get(f"/api/v1/decisions/{decision_id}").status_code == 404


def test_the_decision_list_shows_only_the_callers_project(bank_policy, decide, api, make_key, other_project):
    decide("read_balance")
    other = api(make_key(other_project, scopes=["read"]))
    assert other.get("/api/v1/decisions").json()["count"] == 0


def test_the_policy_version_in_force_is_recorded_on_the_episode(bank_policy, decide):
    decide("read_balance")
    assert Episode.objects.get(external_id="ep-1").versions == {"policy": bank_policy.digest}


@pytest.mark.parametrize(("flag", "expected"), [(False, "on"), (True, "off")])
def test_async_commit_is_opt_in_and_scoped_to_the_decide_transaction(bank_policy, decide, monkeypatch, flag,
                                                                    expected):
    from django.db import connection

    from apps.policies import sql

    monkeypatch.setattr(sql, "ASYNC_COMMIT", flag)
    decide("read_balance")  # the test's own transaction is still open, so SET LOCAL is visible here
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == expected
