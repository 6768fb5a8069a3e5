"""Counterexample search pages: the list of searches with a form to start one, each with its
progress (polled while any runs), cancel, and what it found: seed, edits, the contract broken and a
link to the counterexample's episode in the replay."""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.forms import spec_list_page, validation_messages
from apps.experiments import searches, selectors
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Role

PAGE = 25
EXAMPLE = """\
name: notes-survive-tampering
run:
  environment: {kind: ledger, rounds: 3}
  agents: [{name: a, kind: scripted, plan: [[{tool: read_note}], [{tool: add, arguments: {amount: 5}}]]}]
seed: 0
budget: 50
bounds: {kinds: [insert_text, shift_number, drop_field, duplicate_field], max_edits: 3, calls: 20}
"""


@require_http_methods(["GET", "POST"])
@project_member(write=Role.REVIEWER)
def search_list(request: ProjectRequest) -> HttpResponse:
    def create(source: str) -> HttpResponse:
        searches.search_create(project=request.project, source=source, actor=actor_of(request))
        return redirect("experiments:searches", project=request.project.slug)

    return spec_list_page(request, items=selectors.search_list(project=request.project, filters=request.GET),
                          template="experiments/search_list.html", partial="searches", example=EXAMPLE,
                          create=create, per_page=PAGE, error="")


@require_POST
@project_member(Role.REVIEWER)
def search_cancel(request: ProjectRequest, search_id: int) -> HttpResponse:
    search = selectors.search_get(project=request.project, search_id=search_id)
    if search is None:
        raise Http404("No such search.")
    error = ""
    try:
        searches.search_cancel(search=search, actor=actor_of(request))
    except ValidationError as exc:
        error = validation_messages(exc)[0]
    if not request.htmx:
        return redirect("experiments:searches", project=request.project.slug)
    page = Paginator(selectors.search_list(project=request.project), PAGE).get_page(1)
    return render(request, "experiments/search_list.html#searches",
                  {"page": page, "polling": any(s.is_active for s in page), "error": error})
