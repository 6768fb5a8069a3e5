import pytest
from django.core.management import call_command

from apps.experiments.models import Experiment
from apps.policies.models import Approval
from apps.reviews.models import Violation
from apps.tenancy.models import ApiKey, Membership
from apps.traces.models import Episode

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_a_project_with_a_user_per_role_and_a_key_shown_once(capsys,
                                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--without-experiment")
    first = capsys.readouterr().out
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--without-experiment")
    second = capsys.readouterr().out

    roles = dict(Membership.objects.filter(project__slug="demo").values_list("user__username", "role"))
    assert roles == {"admin": "admin", "reviewer": "reviewer", "viewer": "viewer"}
    assert ApiKey.objects.filter(project__slug="demo").count() == 1
    assert "Demo API key (shown once" in first and "wdn_" in first
    assert "wdn_" not in second


def test_seed_demo_tells_the_injection_story(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--without-experiment")
    assert Episode.objects.filter(project__slug="demo").count() == 4
    blocked = Violation.objects.get(episode__external_id="demo-injection", source="policy")
    assert blocked.name == "known-recipients"
    assert Approval.objects.filter(project__slug="demo", status="pending").count() == 1


def test_the_demo_password_is_masked_in_what_is_stored_and_clear_only_on_the_pending_ask(
        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--without-experiment")
    ask = Approval.objects.select_related("decision").get(project__slug="demo", status="pending")
    stored = ask.decision.arguments["new_password"]
    assert stored.startswith("\u2022\u2022\u2022\u2022") and "horse" not in stored
    assert ask.clear_arguments == {"new_password": "correct horse battery staple"}


def test_seed_demo_leaves_a_finished_experiment_once(django_capture_on_commit_callbacks):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo")
    experiment = Experiment.objects.get(project__slug="demo")
    assert experiment.status == "completed" and experiment.done == experiment.total == 6
    assert experiment.conditions.get(index=2).state["moments"]["collusion_tier"][0] == 2
