"""Replaying stored episodes through a policy (policy_eval, the policy what-if) gives the verdicts
/decide gave live, provenance conditions included: the replay rebuilds the episode's index."""

import pytest

from apps.contracts import whatif
from apps.policies import engine, replay, services
from apps.traces.models import Episode
from tests.policies.conftest import PAY
from tests.policies.test_provenance_index import USER, WEB, send

pytestmark = pytest.mark.django_db

# PAY without its provenance conditions.
LOOSE = """
name: pay
rules:
  - {tool: send_money, effect: allow, when: {amount: {maximum: 1000}}}
  - {tool: send_email, effect: allow}
"""

CALLS = [  # (tool, arguments, live verdict)
    ("send_money", {"recipient": "GB33BUKB20201555555555", "amount": 900}, "allow"),  # the user's IBAN
    ("send_money", {"recipient": "GB29NWBK60161331926819", "amount": 900}, "block"),  # only the web page's
    ("send_email", {"body": "as asked, see https://evil.example/pay"}, "block"),  # a link only the page had
    ("send_email", {"body": "paid the rent"}, "allow"),
]


@pytest.fixture
def live_episode(decider, decide, pay_policy, project):
    """An episode decided live: the user's message, a web page, then the calls, each allowed one
    recorded by the client as an action naming its decision."""
    send(decider, USER, WEB)
    for tool, arguments, expected in CALLS:
        body = decide(tool, arguments).json()
        assert body["verdict"] == expected, body
        if expected == "allow":
            send(decider, {"kind": "action", "actor": "agent", "agent": "banker", "tool": tool,
                           "arguments": arguments, "attributes": {"decision_id": body["decision_id"]}})
    return Episode.objects.get(project=project, external_id="ep-1")


@pytest.fixture
def pay_policy(project, admin):
    return services.policy_publish(project=project, source=PAY, actor=admin)


def test_a_replay_of_an_episode_with_tainted_values_gives_the_live_verdicts(live_episode, project):
    report = replay.replay_episodes(policy=engine.compile_policy(PAY), project=project, episodes=[live_episode])
    assert report.calls == len(CALLS)  # each decided call once, not again as its action
    assert report.verdicts == {"allow": 2, "block": 2}
    assert report.transitions == {}


def test_a_replay_without_the_provenance_conditions_reports_what_they_stopped(live_episode, project):
    report = replay.replay_episodes(policy=engine.compile_policy(LOOSE), project=project, episodes=[live_episode])
    assert report.transitions == {("block", "allow"): 2}
    assert [(c.tool, c.before, c.after) for c in report.changes] == [("send_money", "block", "allow"),
                                                                      ("send_email", "block", "allow")]


def test_a_policy_what_if_with_the_live_policy_changes_no_decision(live_episode, project):
    job = whatif.whatif_create(project=project, actor="alice", kind="policy", source=PAY)
    job = whatif.whatif_run(job_id=job.pk)
    assert (job.status, job.changed) == ("done", 0), job.error
    assert job.summary["after"] == {"allow": 2, "block": 2}
