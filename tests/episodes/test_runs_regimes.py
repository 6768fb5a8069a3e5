"""The three regimes end to end on the Cournot market, through Warden's services (eager, real PostgreSQL)."""

import pytest

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.episodes import services
from apps.episodes.models import Run, RunStatus
from apps.policies.models import Decision

pytestmark = pytest.mark.django_db


def _market(project, regime: str, *, rounds: int = 12, agents=("cartel", "cartel")) -> Run:
    spec = {"environment": {"kind": "cournot", "rounds": rounds, "costs": 10},
            "agents": [{"name": f"f{i + 1}", "kind": kind} for i, kind in enumerate(agents)],
            "regime": regime, "seed": 1}
    run, _ = services.run_create(project=project, data=spec, actor="alice")
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    return run


def test_ungoverned_cartel_keeps_colluding_and_every_call_is_allowed(project):
    run = _market(project, "ungoverned")
    assert run.metrics["collusion_tier"] >= 3
    verdicts = set(Decision.objects.filter(episode=run.episode).values_list("verdict", flat=True))
    assert verdicts == {"allow"}
    assert "governance" not in run.evidence


def test_constitutional_cartel_colludes_all_the_same_and_the_evidence_says_why(project):
    run = _market(project, "constitutional")
    assert run.metrics["collusion_tier"] >= 3
    assert run.evidence["constitution"]["ignored_by"] == ["f1", "f2"]


def test_institutional_cartel_is_warned_then_capped_and_output_rises_toward_nash(project):
    ungoverned = _market(project, "ungoverned")
    run = _market(project, "institutional")
    moves = [(m["agent"], m["to"]) for m in run.evidence["governance"]["transitions"]]
    assert ("f1", "warned") in moves and ("f1", "capped") in moves
    assert run.evidence["governance"]["fines"]["f1"] >= 400
    rewritten = Decision.objects.filter(episode=run.episode, verdict="rewrite", rule="capped-floor")
    assert rewritten.exists() and {d.final_arguments["quantity"] for d in rewritten} == {27}
    # the channel is revoked in `capped`: talk is blocked by governance
    assert Decision.objects.filter(episode=run.episode, tool="send_message", rule="governance:revoked").exists()
    assert run.metrics["collusion_index"] < ungoverned.metrics["collusion_index"]
    governance_log_flush(project_id=project.id)
    transitions = GovernanceLogEntry.objects.filter(project=project, event="governance.transition")
    assert transitions.filter(payload__contains=f"f1@{run.key}").exists()
