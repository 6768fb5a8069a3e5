"""The replay diff: a recorded run's calls decided again under another policy version, per step,
with the changed ones and what they change for the outcome."""

import pytest

from apps.episodes import services as runs
from apps.policies import services
from apps.policies.replay_diff import episode_replay_diff
from tests.episodes.builders import LEDGER_POLICY, ledger_spec

pytestmark = pytest.mark.django_db
BIG_THEN_SMALL = [[{"tool": "add", "arguments": {"amount": 5}}], [{"tool": "add", "arguments": {"amount": 50}}],
                  [{"tool": "add", "arguments": {"amount": 7}}]]


@pytest.fixture
def episode(project):
    run, _ = runs.run_create(project=project, data=ledger_spec(rounds=3, plan=BIG_THEN_SMALL), actor="alice")
    runs.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == "completed", run.error
    return run.episode


@pytest.fixture
def least_privilege(project):
    return services.policy_publish(project=project, source=LEDGER_POLICY, actor="alice", bind_first=False)


def test_only_the_call_the_version_refuses_changes_and_it_would_no_longer_run(episode, least_privilege):
    diff = episode_replay_diff(episode=episode, version=least_privilege)
    assert [(r.tool, r.arguments["amount"], r.before, r.after) for r in diff.rows] == [
        ("add", 5, "allow", "allow"), ("add", 50, "allow", "block"), ("add", 7, "allow", "allow")]
    changed = [r for r in diff.rows if r.changed]
    assert [r.verdict.rule for r in changed] == ["small-adds"] and diff.changed == 1  # its bound refused 50
    assert diff.stopped == [changed[0].index] and diff.released == [] and diff.ends_at is None
    assert diff.transitions == {("allow", "block"): 1}


def test_the_recorded_version_changes_nothing(episode, project):
    from apps.policies.models import PolicyVersion

    recorded = PolicyVersion.objects.get(project=project, digest=episode.versions["policy"])
    diff = episode_replay_diff(episode=episode, version=recorded)
    assert len(diff.rows) == 3 and diff.changed == 0


def test_the_page_shows_each_step_old_and_new_verdict_with_the_change_highlighted(episode, least_privilege, login,
                                                                                  viewer, project):
    client = login(viewer)
    replay = client.get(f"/p/{project.slug}/traces/e/{episode.pk}/").content.decode()
    url = f"/p/{project.slug}/policies/replay/{episode.pk}/"
    assert url in replay
    empty = client.get(url).content.decode()
    assert "ledger-least-privilege v1" in empty and 'id="replay-diff"' not in empty
    html = client.get(url, {"version": least_privilege.pk}).content.decode()
    assert html.count('<tr class="changed"') == 1 and 'id="outcome-stopped"' in html
    assert "1</span> of 3 calls decided differently" in html


def test_an_outsider_and_another_projects_version_see_nothing(episode, least_privilege, login, outsider,
                                                            other_project, viewer, project):
    url = f"/p/{project.slug}/policies/replay/{episode.pk}/"
    assert login(outsider).get(url).status_code == 404
    theirs = services.policy_publish(project=other_project, source=LEDGER_POLICY, actor="oscar", bind_first=False)
    html = login(viewer).get(url, {"version": theirs.pk}).content.decode()
    assert 'id="replay-diff"' not in html
    assert login(viewer).get(f"/p/{project.slug}/policies/replay/999999/").status_code == 404
