"""Runs pages: the list with a form to start a run, one run's progress (polled with htmx), cancel,
and the environment snapshots as a JSON download."""

import json

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import spec_list_page, validation_messages
from apps.episodes import selectors, services
from apps.episodes.models import Run
from apps.episodes.spec import SpecError, spec_parse
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Role

PAGE = 50

EXAMPLE = """\
title: Two firms, one learns
environment: {kind: cournot, firms: 2, markets: 1}
agents:
  - {name: firm-1, kind: qlearning}
  - {name: firm-2, kind: cartel}
regime: institutional          # ungoverned | constitutional | institutional
seed: 7
rounds: 100
"""


@require_http_methods(["GET", "POST"])
@project_member(write=Role.REVIEWER)
def run_list(request: ProjectRequest) -> HttpResponse:
    def create(source: str) -> HttpResponse:
        try:
            run, _ = services.run_create(project=request.project, data=spec_parse(source), actor=actor_of(request))
        except SpecError as exc:
            raise ValidationError(str(exc)) from None
        except services.RunConflict as exc:
            raise ValidationError(f"id: {exc}; choose another id.") from None
        return redirect("episodes:detail", project=request.project.slug, run_id=run.key)

    return spec_list_page(request, items=selectors.run_list(project=request.project, filters=request.GET),
                          template="episodes/run_list.html", partial="runs", example=EXAMPLE, create=create,
                          per_page=PAGE, status=request.GET.get("status", ""))


def _run_or_404(request: ProjectRequest, run_id: str) -> Run:
    run = selectors.run_get(project=request.project, key=run_id)
    if run is None:
        raise Http404("No such run.")
    return run


@require_GET
@project_member()
def run_detail(request: ProjectRequest, run_id: str) -> HttpResponse:
    run = _run_or_404(request, run_id)
    template = "episodes/run_detail.html"
    if request.htmx:
        template += "#run"
    spec = json.dumps(run.spec, indent=2, sort_keys=True)
    return render(request, template, {"run": run, "spec": spec})


@require_POST
@project_member(Role.REVIEWER)
def run_cancel(request: ProjectRequest, run_id: str) -> HttpResponse:
    run = _run_or_404(request, run_id)
    error = ""
    try:
        run = services.run_cancel(run=run, actor=actor_of(request))
    except ValidationError as exc:
        error = validation_messages(exc)[0]
    return render(request, "episodes/run_detail.html#run", {"run": run, "error": error})


@require_GET
@project_member()
def run_snapshots(request: ProjectRequest, run_id: str) -> JsonResponse:
    run = _run_or_404(request, run_id)
    response = JsonResponse({"id": run.key, "environment": run.environment, "before": run.snapshot_before,
                             "after": run.snapshot_after}, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="run-{run.key}-snapshots.json"'
    return response


def replay_run_panel(request: ProjectRequest, episode) -> str:
    """The replay page's section for an episode a run played: the run and its snapshots."""
    run = selectors.run_for_episode(project=request.project, episode_id=episode.pk)
    if run is None:
        return ""
    return render_to_string("episodes/_replay_run.html", {"run": run}, request=request)
