"""Experiments pages: the list with a form to paste a spec, one experiment's progress and results
(polled with htmx while it runs), cancel and retry, a condition's trials with their replays, exports."""

import json
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import spec_list_page, validation_messages
from apps.experiments import charts, selectors, services
from apps.experiments.models import Experiment
from apps.experiments.table import result_grid
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Role

PAGE = 25
TRIALS_PAGE = 50

EXAMPLE = """\
name: cournot-regimes
title: Scripted Cournot firms under three regimes
run:
  environment: {kind: cournot}
  agents: [{name: firm-a, kind: cartel}, {name: firm-b, kind: tit_for_tat}]
  rounds: 50
matrix:
  regime: [ungoverned, constitutional, institutional]
seeds: 5
baseline: ungoverned
charts: [collusion_tier, severe, consumer_surplus]
"""


@require_http_methods(["GET", "POST"])
@project_member(write=Role.REVIEWER)
def experiment_list(request: ProjectRequest) -> HttpResponse:
    def create(source: str) -> HttpResponse:
        experiment = services.experiment_create(project=request.project, source=source, actor=actor_of(request))
        return redirect("experiments:detail", project=request.project.slug, experiment_id=experiment.pk)

    return spec_list_page(request, items=selectors.experiment_list(project=request.project, filters=request.GET),
                          template="experiments/experiment_list.html", partial="experiments", example=EXAMPLE,
                          create=create, per_page=PAGE)


def _experiment_or_404(request: ProjectRequest, experiment_id: int) -> Experiment:
    experiment = selectors.experiment_get(project=request.project, experiment_id=experiment_id)
    if experiment is None:
        raise Http404("No such experiment.")
    return experiment


def _live(request: ProjectRequest, experiment: Experiment, error: str = "") -> dict:
    results = selectors.experiment_results(experiment=experiment)
    chosen = experiment.spec.get("charts") if isinstance(experiment.spec.get("charts"), list) else None
    figures = charts.experiment_figures(results=results, chosen=chosen) if experiment.done else []
    for figure in figures:
        figure["data_id"] = f"{figure['id']}-data"
    return {"experiment": experiment, "grid": result_grid(results), "error": error, "figures": figures}


@require_GET
@project_member()
def experiment_detail(request: ProjectRequest, experiment_id: int) -> HttpResponse:
    experiment = _experiment_or_404(request, experiment_id)
    template = "experiments/experiment_detail.html"
    if request.htmx:
        template += "#live"
    context = _live(request, experiment)
    context["spec"] = json.dumps(experiment.spec, indent=2)
    return render(request, template, context)


@require_POST
@project_member(Role.REVIEWER)
def experiment_cancel(request: ProjectRequest, experiment_id: int) -> HttpResponse:
    experiment, error = _experiment_or_404(request, experiment_id), ""
    try:
        experiment = services.experiment_cancel(experiment=experiment, actor=actor_of(request))
    except ValidationError as exc:
        error = validation_messages(exc)[0]
    return render(request, "experiments/experiment_detail.html#live", _live(request, experiment, error))


@require_POST
@project_member(Role.REVIEWER)
def experiment_retry(request: ProjectRequest, experiment_id: int) -> HttpResponse:
    experiment, error = _experiment_or_404(request, experiment_id), ""
    try:
        services.experiment_retry(experiment=experiment, actor=actor_of(request))
        experiment.refresh_from_db()
    except ValidationError as exc:
        error = validation_messages(exc)[0]
    return render(request, "experiments/experiment_detail.html#live", _live(request, experiment, error))


@require_POST
@project_member(Role.REVIEWER)
def experiment_rerun(request: ProjectRequest, experiment_id: int) -> HttpResponse:
    experiment = services.experiment_rerun(experiment=_experiment_or_404(request, experiment_id),
                                           actor=actor_of(request))
    return redirect("experiments:detail", project=request.project.slug, experiment_id=experiment.pk)


@require_GET
@project_member()
def condition_detail(request: ProjectRequest, experiment_id: int, index: int) -> HttpResponse:
    experiment = _experiment_or_404(request, experiment_id)
    condition = selectors.condition_get(experiment=experiment, index=index)
    if condition is None:
        raise Http404("No such condition.")
    status = request.GET.get("status", "")
    page = Paginator(selectors.trial_list(condition=condition, status=status), TRIALS_PAGE).get_page(
        request.GET.get("page"))
    chosen = experiment.spec.get("charts") if isinstance(experiment.spec.get("charts"), list) else []
    keys = [str(k) for k in chosen][:4] or list(selectors.PREFERRED[:4])
    rows = [(t, [t.metrics.get(k) for k in keys]) for t in page]
    return render(request, "experiments/condition_detail.html",
                  {"experiment": experiment, "condition": condition, "page": page, "rows": rows, "keys": keys,
                   "status": status, "query": urlencode({"status": status}) if status else "",
                   "run_spec": json.dumps(condition.run_spec, indent=2)})


@require_GET
@project_member()
def experiment_results(request: ProjectRequest, experiment_id: int, kind: str) -> HttpResponse:
    experiment = _experiment_or_404(request, experiment_id)
    if kind == "csv":
        response = HttpResponse(selectors.results_csv(experiment=experiment), content_type="text/csv")
    elif kind == "json":
        response = JsonResponse(selectors.results_json(experiment=experiment), json_dumps_params={"indent": 2})
    else:
        raise Http404("Results come as results.csv or results.json.")
    response["Content-Disposition"] = f'attachment; filename="experiment-{experiment.pk}-results.{kind}"'
    return response
