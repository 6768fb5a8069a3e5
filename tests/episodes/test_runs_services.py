"""Runs played through Warden's own decision and trace services (eager Celery, real PostgreSQL)."""

import pytest

from apps.audit.models import GovernanceLogOutbox
from apps.episodes import services
from apps.episodes.models import Run, RunStatus
from apps.governance.models import Evidence
from apps.policies.models import Decision, PolicyBinding
from apps.traces.models import Step
from tests.episodes.builders import ledger_spec

pytestmark = pytest.mark.django_db


def _run(project, spec, **kwargs) -> Run:
    run, created = services.run_create(project=project, data=spec, actor="alice", **kwargs)
    assert created
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    return run


def test_ungoverned_run_decides_every_call_and_traces_every_step(project):
    run = _run(project, ledger_spec(rounds=3))
    assert run.status == RunStatus.COMPLETED, run.error
    steps = list(Step.objects.filter(episode=run.episode).order_by("index").values_list("index", "kind"))
    assert [i for i, _ in steps] == list(range(len(steps)))
    # per round: action, decision, observation of the tool, observation of the round
    assert [k for _, k in steps[:4]] == ["action", "decision", "observation", "observation"]
    decisions = Decision.objects.filter(episode=run.episode)
    assert decisions.count() == 3 and set(decisions.values_list("verdict", flat=True)) == {"allow"}
    assert set(decisions.values_list("agent", flat=True)) == {f"a@{run.key}"}
    assert run.episode.status == "completed"
    assert run.snapshot_before["totals"] == {"a": 0} and run.snapshot_after["totals"] == {"a": 15}
    assert not PolicyBinding.objects.filter(project=project, agent=f"*@{run.key}").exists()


def _publish_ledger_governance(project):
    from apps.governance.graphs import graph_publish
    from apps.policies.services import policy_publish
    from tests.episodes.builders import LEDGER_GRAPH, LEDGER_POLICY

    policy_publish(project=project, source=LEDGER_POLICY, actor="alice")
    graph_publish(project=project, source=LEDGER_GRAPH, actor="alice", activate=False)


def test_institutional_run_sanctions_an_agent_after_the_round_it_broke_the_policy(project):
    _publish_ledger_governance(project)
    plan = [[{"tool": "add", "arguments": {"amount": 50}}], [{"tool": "add", "arguments": {"amount": 5}}]]
    run = _run(project, ledger_spec(regime="institutional", rounds=3, plan=plan,
                                    versions={"policy": "ledger-least-privilege", "graph": "ledger-institution"}))
    assert run.status == RunStatus.COMPLETED, run.error
    rules = list(Decision.objects.filter(episode=run.episode).order_by("step_index").values_list("verdict", "rule"))
    # round 1: the policy blocks; the graph then revokes `add`, so rounds 2 and 3 are blocked by governance
    assert rules == [("block", "small-adds"), ("block", "governance:revoked"), ("block", "governance:revoked")]
    assert list(Evidence.objects.filter(episode=run.episode).order_by("round").values_list("round", flat=True)) == [
        1, 2, 3]
    assert run.evidence["governance"]["transitions"] == [{"round": 1, "agent": "a", "to": "restricted"}]
    assert run.evidence["governance"]["fines"] == {"a": 10.0}  # 5 for each of rounds 2 and 3 in `restricted`
    assert run.snapshot_after["totals"] == {"a": 0}


def test_a_run_id_is_an_idempotency_key(project):
    first, created = services.run_create(project=project, data=ledger_spec(id="nightly-1"), actor="alice")
    again, created_again = services.run_create(project=project, data=ledger_spec(id="nightly-1"), actor="alice")
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(services.RunConflict):
        services.run_create(project=project, data=ledger_spec(id="nightly-1", seed=8), actor="alice")


def test_executing_a_finished_run_again_changes_nothing(project):
    run = _run(project, ledger_spec(rounds=2))
    steps = Step.objects.filter(episode=run.episode).count()
    outbox = GovernanceLogOutbox.objects.count()
    assert services.run_execute(run_id=run.id, worker="again") == RunStatus.COMPLETED
    assert Step.objects.filter(episode=run.episode).count() == steps
    assert GovernanceLogOutbox.objects.count() == outbox


def _unbuildable(run: Run) -> None:
    """What a worker meets when the run's environment cannot be built there any more."""
    spec = {**run.spec, "environment": {**run.spec["environment"], "rounds": "three"}}
    Run.objects.filter(pk=run.pk).update(spec=spec)


def test_a_run_whose_environment_cannot_be_built_fails_with_the_reason(project, login, admin):
    run, _ = services.run_create(project=project, data=ledger_spec(rounds=3), actor="alice")
    _unbuildable(run)
    assert services.run_execute(run_id=run.id, worker="test") == RunStatus.FAILED
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error == "the environment could not be built: environment.rounds: has the wrong type"
    page = login(admin).get(f"/p/{project.slug}/runs/{run.key}/")
    assert "the environment could not be built" in page.content.decode()
    assert not PolicyBinding.objects.filter(project=project, agent__endswith=f"@{run.key}").exists()


def test_a_resumed_run_whose_environment_cannot_be_built_fails_instead_of_staying_running(project):
    run, _ = services.run_create(project=project, data=ledger_spec(rounds=3), actor="alice")
    Run.objects.filter(pk=run.pk).update(snapshot_before={"rounds": 3})  # built once, before an upgrade
    _unbuildable(run)
    assert services.run_execute(run_id=run.id, worker="test") == RunStatus.FAILED
    run.refresh_from_db()
    assert "environment.rounds" in run.error and run.episode.status == "failed"
