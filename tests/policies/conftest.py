import pytest

from apps.policies import services

BANK = """
name: bank
default: block
rules:
  - id: known-recipients
    tool: send_money
    effect: allow
    priority: 10
    when:
      recipient: {enum: [UK1, UK2]}
      amount: {type: number, maximum: 1000}
    if: {untrusted: false, calls: {max: 3}}
    fallback: {action: block, message: recipient is not on the allow-list}
  - id: cap
    tool: pay_invoice
    effect: allow
    when: {amount: {maximum: 100}}
    fallback: {action: rewrite, clamp: {amount: {maximum: 100}}}
  - id: password-needs-human
    tool: update_password
    effect: deny
    fallback: {action: ask, timeout: 30, default: block}
  - id: wipe
    tool: delete_account
    effect: deny
    fallback: {action: terminate, message: deleting accounts ends the episode}
  - id: reads
    tool: "read_*"
    effect: allow
tests:
  - name: reading is fine
    call: {tool: read_balance}
    expect: allow
"""

# Provenance conditions on transfers and e-mail (test_engine_provenance, test_provenance_index).
PAY = """
name: pay
rules:
  - id: known-recipients
    tool: send_money
    effect: allow
    when: {recipient: {from: trusted}, amount: {maximum: 1000}}
    fallback: {action: block, message: that recipient did not come from you}
  - id: no-foreign-links
    tool: send_email
    effect: deny
    priority: 5
    if: {tainted: [body]}
  - {tool: send_email, effect: allow}
"""


@pytest.fixture
def bank_policy(project, admin):
    return services.policy_publish(project=project, source=BANK, actor=admin)


@pytest.fixture
def decider(api, make_key, project):
    return api(make_key(project, scopes=["decide", "ingest", "read"]))


@pytest.fixture
def decide(decider):
    def call(tool, arguments=None, episode="ep-1", agent="banker", **extra):
        body = {"episode": episode, "agent": agent, "tool": tool, "arguments": arguments or {}, **extra}
        return decider.post("/api/v1/decide", body, format="json")

    return call
