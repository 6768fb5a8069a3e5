"""The one-statement decision write (policies.sql) and the lean /decide request path
(policies.decide_request): same answers, same records."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.policies import decide_request, sql
from apps.policies.models import Decision, EpisodeGuard
from apps.policies.records import DecideInput, DecisionRecord, DecisionRow, GuardWrite
from apps.traces import schema
from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db


def _stored_digest_matches(step: Step) -> bool:
    fields = {name: getattr(step, name) for name in schema.STEP_FIELDS}
    return schema.step_digest(schema.step_normalize(fields)) == step.digest


def test_a_routine_decision_on_a_known_episode_costs_two_statements(bank_policy, decide):
    decide("read_balance")  # creates the episode and records the policy version on it
    with CaptureQueriesContext(connection) as queries:
        body = decide("read_balance").json()
    assert body["verdict"] == "allow"
    # the key with the decision context, then the write (decision + step + guard + log outbox)
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]


def test_the_decision_step_digest_computed_in_the_database_matches_the_trace_schema(bank_policy, decide):
    decide("read_balance")
    decide("pay_invoice", {"amount": 5000, "memo": "naïve \"quoted\" \\ text"})
    steps = list(Step.objects.filter(kind="decision").order_by("index"))
    assert [s.index for s in steps] == [0, 1]
    assert all(_stored_digest_matches(s) for s in steps)


@pytest.fixture
def lean_answers(monkeypatch):
    """Records whether each request took the lean path (True) or fell through to the full view (False)."""
    taken = []
    lean = decide_request.decide

    def spy(request, render):
        response = lean(request, render)
        taken.append(response is not None)
        return response

    monkeypatch.setattr(decide_request, "decide", spy)
    return taken


def test_fast_and_full_views_give_the_same_answer(bank_policy, decide, decider, lean_answers):
    fast = decide("pay_invoice", {"amount": 5000}, episode="a").json()
    # An explicit step_index takes the full view; compare everything but ids, times and indexes.
    full = decide("pay_invoice", {"amount": 5000}, episode="b", step_index=0).json()
    assert lean_answers == [True, False]  # the premise: one answer from each path
    volatile = {"decision_id", "created_at", "episode", "step_index"}
    assert {k: v for k, v in fast.items() if k not in volatile} == {k: v for k, v in full.items() if k not in volatile}
    assert set(fast) == set(full)


@pytest.mark.parametrize("body, field", [
    ({"episode": " padded ", "tool": "read_x"}, None),  # trimmed by the full view, still decided
    ({"episode": "e", "tool": ""}, "tool"),
    ({"episode": "e", "tool": "read_x", "arguments": []}, "arguments"),
    ({"episode": "e", "tool": "read_x", "context": {"untrusted": "yes please"}}, "untrusted"),
    ({"episode": "e", "tool": "read_x", "context": {"colour": "red"}}, "colour"),
    ({"episode": "e" * 201, "tool": "read_x"}, "episode"),
])
def test_input_the_lean_path_declines_still_gets_the_full_views_answer(bank_policy, decider, body, field,
                                                                       lean_answers):
    response = decider.post("/api/v1/decide", body, format="json")
    assert lean_answers == [False]  # the premise: the lean path declined it
    if field is None:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400
        assert field in response.content.decode()
    if field is not None:
        assert not Decision.objects.exists()


def test_a_stale_guard_is_not_written_and_the_decision_is_made_again(bank_policy, project, decide):
    decide("send_money", {"recipient": "UK1", "amount": 5})
    context = sql.decide_context(project_id=project.id, external_id="ep-1", agent="banker")
    decide("send_money", {"recipient": "UK1", "amount": 5})  # moves the guard on
    now = timezone.now()
    row = DecisionRow(id=context.decision_id, project_id=project.id, episode_id=context.episode.pk, step_index=None,
                      agent="banker", kind="tool", tool="send_money", arguments={}, final_arguments={}, verdict="allow",
                      outcome="allow", status="decided", rule="", message="", policy_version_id=None,
                      policy_digest="", tier="light", evidence={}, created_at=now, latency_us=0)
    step = {"kind": "decision", "actor": "governance", "agent": "banker", "tool": "send_money"}
    record = DecisionRecord(
        call=DecideInput(episode="ep-1", agent="banker", tool="send_money", arguments={}), context=context,
        verdict=None, version=None, row=row, step=step,
        guard=GuardWrite(counts={"send_money": 1}, untrusted=False, scanned_to=0, now=now), actor="t", log={},
    )
    assert sql.decision_write(record=record, log_payload="{}", tasks=[]) is None
    assert Decision.objects.count() == 2 and Step.objects.filter(kind="decision").count() == 2
    assert EpisodeGuard.objects.get().counts == {"send_money": 2}


def test_the_per_episode_limit_counts_decisions_of_both_write_paths(bank_policy, decide):
    decide("send_money", {"recipient": "UK1", "amount": 5}, step_index=0)
    decide("send_money", {"recipient": "UK1", "amount": 5})
    decide("send_money", {"recipient": "UK1", "amount": 5}, step_index=2)
    assert decide("send_money", {"recipient": "UK1", "amount": 5}).json()["verdict"] == "block"
    assert EpisodeGuard.objects.get().counts == {"send_money": 3}


def test_arguments_the_trace_store_refuses_write_nothing_not_even_the_new_episode(bank_policy, decide):
    response = decide("read_balance", {"note": "a\u0000b"}, episode="fresh")
    assert response.status_code == 400
    assert "arguments" in response.content.decode()
    assert not Episode.objects.filter(external_id="fresh").exists()
    assert not Decision.objects.exists() and not Step.objects.exists()
