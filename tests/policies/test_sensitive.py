"""Sensitive arguments: masked wherever a call is stored, shown or exported; in clear only to the
reviewer answering a pending ask (apps/policies/masking.py, the policy's `sensitive:`)."""

import json

import pytest
from django.urls import reverse

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.policies import approvals, engine, masking, services
from apps.policies.models import Approval, Decision
from apps.reviews.models import Violation
from apps.reviews.tasks import episode_steps_task
from apps.traces import selectors as trace_selectors
from apps.traces.models import Step

pytestmark = pytest.mark.django_db

SECRET = "hunter2-correct-horse"
VAULT = """
name: vault
sensitive:
  "*": [api_key]
  login: [password]
  set_pin: [pin]
rules:
  - id: logins
    tool: login
    effect: allow
    when: {user: {enum: [ann, bob]}}
  - id: keys-need-a-human
    tool: rotate_key
    effect: deny
    fallback: {action: ask, timeout: 60}
  - id: pins
    tool: set_pin
    effect: allow
    when: {pin: {maximum: 9999}}
    fallback: {action: rewrite, clamp: {pin: {maximum: 9999}}}
  - {tool: "read_*", effect: allow}
"""


@pytest.fixture
def vault(project, admin):
    return services.policy_publish(project=project, source=VAULT, actor=admin)


def _page_texts(*responses) -> str:
    return "".join(b"".join(r.streaming_content).decode() if r.streaming else r.content.decode()
                   for r in responses)


def test_a_policy_marks_arguments_sensitive_for_every_tool_or_per_tool():
    policy = engine.compile_policy(VAULT)
    assert policy.sensitive_args("login") == {"api_key", "password"}
    assert policy.sensitive_args("read_mail") == {"api_key"}
    assert engine.compile_policy("name: p\nsensitive: [token]\nrules: []").sensitive_args("x") == {"token"}


@pytest.mark.parametrize(("text", "field"), [("sensitive: password", "sensitive"),
                                              ("sensitive: {login: password}", "sensitive.login"),
                                              ("sensitive: [1, 2]", "sensitive")])
def test_a_malformed_sensitive_list_is_refused_naming_its_field_and_line(text, field):
    with pytest.raises(engine.PolicyError) as exc:
        engine.compile_policy(f"name: p\n{text}\nrules: []")
    assert f"line 2, field {field}" in str(exc.value)


def test_a_decision_stores_masks_and_answers_its_runtime_in_clear(vault, decide, project):
    body = decide("login", {"user": "ann", "password": SECRET}).json()
    assert body["verdict"] == "allow"
    assert body["arguments"] == {"user": "ann", "password": SECRET}  # the runtime's own call
    mask = masking.mask_of(SECRET, project_id=project.id)
    assert mask.startswith("••••") and SECRET not in mask
    d = Decision.objects.get()
    assert d.arguments == d.final_arguments == {"user": "ann", "password": mask}
    step = Step.objects.get(kind="decision")
    assert step.arguments["password"] == mask and SECRET not in json.dumps(step.result)


def test_equal_values_get_equal_masks_within_a_project_only(vault, decide, project, other_project):
    decide("login", {"user": "ann", "password": SECRET})
    decide("login", {"user": "bob", "password": SECRET}, episode="ep-2")
    decide("login", {"user": "bob", "password": "another"}, episode="ep-3")
    masks = [d.arguments["password"] for d in Decision.objects.order_by("id")]
    assert masks[0] == masks[1] != masks[2]
    assert masking.mask_of(SECRET, project_id=other_project.id) != masks[0]


def test_the_governance_log_keeps_a_digest_never_the_value(vault, decide, project):
    decide("login", {"user": "ann", "password": SECRET})
    governance_log_flush(project_id=project.id)
    entry = GovernanceLogEntry.objects.get(event="decision")
    assert entry.data["sensitive"] == {"password": masking.mask_of(SECRET, project_id=project.id)}
    assert SECRET not in json.dumps(entry.data)


def test_a_refusal_that_quotes_the_value_quotes_its_mask(vault, decide, project):
    body = decide("set_pin", {"pin": SECRET}).json()  # a clamp cannot bound a string: blocked
    assert body["verdict"] == "block"
    d = Decision.objects.get()
    stored = json.dumps([d.arguments, d.final_arguments, d.message, d.evidence,
                         Step.objects.get(kind="decision").result, Step.objects.get(kind="decision").attributes])
    assert SECRET not in stored
    assert masking.mask_of(SECRET, project_id=project.id) in d.evidence["detail"]


def test_a_rewrite_of_a_sensitive_argument_answers_the_runtime_in_clear(vault, decide, project):
    body = decide("set_pin", {"pin": 123456}).json()
    assert (body["verdict"], body["arguments"]) == ("rewrite", {"pin": 9999})
    d = Decision.objects.get()
    assert d.final_arguments == {"pin": masking.mask_of(9999, project_id=project.id)}


def test_a_retry_under_its_idempotency_key_gets_its_own_values_back(vault, decide):
    first = decide("login", {"user": "ann", "password": SECRET}, idempotency_key="k-1").json()
    again = decide("login", {"user": "ann", "password": SECRET}, idempotency_key="k-1").json()
    assert again["decision_id"] == first["decision_id"]
    assert again["arguments"] == {"user": "ann", "password": SECRET}
    assert Decision.objects.count() == 1


def test_a_retry_of_a_numbered_decision_is_recognised_through_the_mask(vault, decide):
    first = decide("login", {"user": "ann", "password": SECRET}, step_index=0).json()
    again = decide("login", {"user": "ann", "password": SECRET}, step_index=0)
    assert again.status_code == 200 and again.json()["decision_id"] == first["decision_id"]
    assert decide("login", {"user": "ann", "password": "other"}, step_index=0).status_code == 409


def test_a_recorded_tool_call_is_stored_masked(vault, decider, project):
    decider.post("/api/v1/episodes", {"external_id": "run-1"}, format="json")
    answer = decider.post("/api/v1/episodes/run-1/steps", {"steps": [
        {"kind": "action", "agent": "banker", "tool": "login", "arguments": {"user": "ann", "password": SECRET}},
        {"kind": "action", "agent": "banker", "tool": "read_mail", "arguments": {"api_key": SECRET, "box": "in"}},
    ]}, format="json")
    assert answer.status_code in (200, 201)
    stored = list(Step.objects.order_by("index").values_list("arguments", flat=True))
    mask = masking.mask_of(SECRET, project_id=project.id)
    assert stored == [{"user": "ann", "password": mask}, {"api_key": mask, "box": "in"}]
    # Re-sending the batch is still harmless: the same masks, the same digests.
    again = decider.post("/api/v1/episodes/run-1/steps", {"steps": [
        {"index": 0, "kind": "action", "agent": "banker", "tool": "login",
         "arguments": {"user": "ann", "password": SECRET}}]}, format="json")
    assert again.status_code in (200, 201) and Step.objects.count() == 2


def test_pages_exports_and_api_reads_never_show_the_value(vault, decide, decider, project, viewer, admin, login):
    decide("login", {"user": "ann", "password": SECRET})
    decide("set_pin", {"pin": SECRET})  # a block: a violation
    decider.post("/api/v1/episodes/ep-1/steps", {"steps": [
        {"kind": "action", "agent": "banker", "tool": "login", "arguments": {"user": "ann", "password": SECRET}}]},
        format="json")
    episode = Decision.objects.first().episode
    episode_steps_task.delay(episode.pk, 0)  # the promised checks: the block becomes a violation
    slug = project.slug
    pages = []
    for user in (viewer, admin):
        client = login(user)
        pages += [client.get(reverse("traces:episode", kwargs={"project": slug, "episode_id": episode.pk})),
                  client.get(reverse("traces:step_chunk", kwargs={"project": slug, "episode_id": episode.pk})),
                  client.get(reverse("traces:episode_export", kwargs={"project": slug, "episode_id": episode.pk})),
                  client.get(reverse("policies:decisions", kwargs={"project": slug}))]
        pages += [client.get(reverse("reviews:detail", kwargs={"project": slug, "violation_id": v.pk}))
                  for v in Violation.objects.all()]
    pages += [decider.get("/api/v1/decisions"), decider.get("/api/v1/episodes/ep-1/steps")]
    assert all(p.status_code == 200 for p in pages), [p.status_code for p in pages]
    assert Violation.objects.exists()
    assert SECRET not in _page_texts(*pages)
    assert "••••" in _page_texts(*pages)
    # Search indexes what is stored: the value finds nothing, its mask finds the calls.
    assert not trace_selectors.episode_list(project=project, filters={"q": SECRET}).exists()


def _pending_ask(decide) -> Approval:
    body = decide("rotate_key", {"api_key": SECRET, "service": "mail"}).json()
    assert body["verdict"] == "ask"
    return Approval.objects.get(pk=body["decision_id"])


def test_only_a_reviewer_sees_a_pending_asks_value_and_only_until_it_is_answered(
        vault, decide, project, reviewer, viewer, login):
    approval = _pending_ask(decide)
    assert approval.clear_arguments == {"api_key": SECRET}
    assert approval.decision.arguments["api_key"] == masking.mask_of(SECRET, project_id=project.id)
    url = reverse("policies:approvals", kwargs={"project": project.slug})
    assert SECRET in login(reviewer).get(url).content.decode()
    assert SECRET not in login(viewer).get(url).content.decode()
    approvals.approval_answer(approval=approval, approve=True, actor=reviewer)
    approval.refresh_from_db()
    assert approval.clear_arguments == {}
    assert SECRET not in login(reviewer).get(url).content.decode()


def test_the_approvals_api_gives_the_value_to_keys_that_may_answer_only(vault, decide, project, make_key, api):
    _pending_ask(decide)
    reviewing = api(make_key(project, scopes=["review"])).get("/api/v1/approvals").json()["results"][0]
    reading = api(make_key(project, scopes=["read"])).get("/api/v1/approvals").json()["results"][0]
    assert reviewing["clear_arguments"] == {"api_key": SECRET}
    assert reading["clear_arguments"] == {} and SECRET not in json.dumps(reading)
    assert reviewing["decision"]["arguments"]["api_key"].startswith("••••")


def test_an_ask_past_its_deadline_forgets_the_value(vault, decide):
    approval = _pending_ask(decide)
    Approval.objects.filter(pk=approval.pk).update(deadline=approval.deadline.replace(year=2000))
    assert approvals.approvals_expire_due() == 1
    assert Approval.objects.get(pk=approval.pk).clear_arguments == {}


def test_a_policy_without_sensitive_arguments_stores_calls_as_sent(bank_policy, decide):
    decide("send_money", {"recipient": "UK1", "amount": 5})
    assert Decision.objects.get().arguments == {"recipient": "UK1", "amount": 5}


def test_a_provenance_finding_on_a_sensitive_argument_names_its_mask(project, admin, decide):
    services.policy_publish(project=project, actor=admin, source="""
name: keys
sensitive: [token]
rules:
  - id: trusted-tokens
    tool: call_api
    effect: allow
    when: {token: {from: trusted}}
""")
    token = "tok_9f8e7d6c5b4a39281706"
    body = decide("call_api", {"token": token}).json()
    assert body["verdict"] == "block"
    d = Decision.objects.get()
    step = Step.objects.get(kind="decision")
    assert token not in json.dumps([d.message, d.evidence, step.attributes, step.result])
    assert d.evidence["finding"]["value"] == masking.mask_of(token, project_id=project.id)


def test_a_narrowing_cannot_mark_arguments_sensitive():
    with pytest.raises(engine.PolicyError, match="'sensitive' belongs in the policy"):
        engine.compile_policy("sensitive: [password]\nrules: []", narrowing=True)
