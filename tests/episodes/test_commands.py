"""manage.py episode_run SPEC.yaml --project P [--here | --wait]."""

import pytest
from django.core.management import CommandError, call_command

from apps.episodes.models import Run

pytestmark = pytest.mark.django_db

SPEC = """\
id: cli-run
environment: {kind: ledger, rounds: 2}
agents: [{name: a, kind: scripted, plan: [[{tool: add, arguments: {amount: 1}}]]}]
"""


def test_episode_run_here_plays_the_spec_and_reports_its_episode(project, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(SPEC)
    call_command("episode_run", str(path), "--project", project.slug, "--here")
    out = capsys.readouterr().out
    assert "run cli-run completed: 2/2 rounds, episode runs/cli-run" in out
    assert Run.objects.get(key="cli-run").episode.step_count == 8


def test_episode_run_names_the_bad_field(project, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(SPEC.replace("scripted", "robot"))
    with pytest.raises(CommandError, match=r"agents\[0\]\.kind"):
        call_command("episode_run", str(path), "--project", project.slug)
    assert Run.objects.count() == 0
