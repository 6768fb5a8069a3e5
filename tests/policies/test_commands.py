"""policy_check, policy_test (offline) and policy_eval (replay) management commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.traces.models import Step
from tests.factories import EpisodeFactory, StepFactory
from tests.policies.conftest import BANK


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def bank_file(tmp_path):
    path = tmp_path / "bank.yaml"
    path.write_text(BANK)
    return str(path)


def test_policy_check_accepts_a_valid_file_and_prints_its_digest(bank_file):
    assert "OK, policy 'bank', 5 rules, 1 tests, digest" in run("policy_check", bank_file)


def test_policy_check_reports_the_line_of_each_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nrules:\n  - {tool: t, effect: allow}\n  - {tool: u, effect: sometimes}\n")
    with pytest.raises(CommandError) as exc:
        run("policy_check", str(path))
    assert "line 4" in str(exc.value) and "rules[1].effect" in str(exc.value)


def test_policy_check_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="missing.yaml"):
        run("policy_check", str(tmp_path / "missing.yaml"))


def test_policy_test_runs_the_embedded_cases(bank_file):
    out = run("policy_test", bank_file)
    assert "PASS reading is fine" in out and "1 passed, 0 failed" in out


def test_policy_test_fails_when_a_case_fails(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(BANK.replace("expect: allow", "expect: block"))
    with pytest.raises(CommandError, match="0 passed, 1 failed"):
        run("policy_test", str(path))


def test_policy_eval_replays_a_jsonl_file_and_reports_changes(bank_file, tmp_path):
    calls = tmp_path / "calls.jsonl"
    calls.write_text("\n".join(json.dumps(c) for c in [
        {"tool": "read_balance", "verdict": "allow"},
        {"tool": "send_money", "arguments": {"recipient": "FR9", "amount": 1}, "verdict": "allow"},
        {"tool": "pay_invoice", "arguments": {"amount": 500}},
    ]))
    out = run("policy_eval", "--file", bank_file, "--jsonl", str(calls))
    assert "calls replayed: 3" in out
    assert "allow -> block: 1" in out and "allow -> rewrite: 1" in out
    assert "line 2 send_money: allow -> block (rule known-recipients)" in out


def test_policy_eval_names_the_bad_line_of_a_jsonl_file(bank_file, tmp_path):
    calls = tmp_path / "calls.jsonl"
    calls.write_text('{"tool": "a"}\nnot json\n')
    with pytest.raises(CommandError, match="line 2"):
        run("policy_eval", "--file", bank_file, "--jsonl", str(calls))


@pytest.mark.django_db
def test_policy_eval_replays_stored_episodes_through_a_published_version(bank_policy, project):
    episode = EpisodeFactory(project=project, external_id="old-run")
    StepFactory(episode=episode, index=0, kind="action", tool="send_money", agent="banker",
                arguments={"recipient": "UK1", "amount": 5})
    StepFactory(episode=episode, index=1, kind="observation", tool="read_web", provenance="untrusted")
    StepFactory(episode=episode, index=2, kind="action", tool="send_money", agent="banker",
                arguments={"recipient": "UK1", "amount": 5})
    out = run("policy_eval", "--project", "acme", "--policy", "bank")
    assert "calls replayed: 2" in out
    assert "old-run#2 send_money: allow -> block" in out
    assert Step.objects.count() == 3


@pytest.mark.django_db
def test_policy_eval_only_reads_the_named_projects_episodes(bank_policy, project, other_project):
    episode = EpisodeFactory(project=other_project)
    StepFactory(episode=episode, index=0, kind="action", tool="delete_account")
    assert "calls replayed: 0" in run("policy_eval", "--project", "acme", "--policy", "bank")
