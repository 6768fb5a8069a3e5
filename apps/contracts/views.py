"""Contract pages: list and publish, a contract's versions and verdicts, what-if jobs."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.contracts import selectors, services, whatif
from apps.contracts.models import WhatIfJob
from apps.core.forms import located, validation_messages
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Role

PAGE = 50

EXAMPLE = """name: no-untrusted-payments
description: a value read from the web never reaches a payment
severity: critical
runtime: true            # also checked live: a failure terminates the episode
rules:
  - flow:
      sinks: {kind: action, tool: send_money}
  - at_most: {match: {kind: action, tool: send_money}, count: 3}
"""


@require_http_methods(["GET", "POST"])
@project_member(write=Role.ADMIN)
def contract_list(request: ProjectRequest) -> HttpResponse:
    errors, published, source = [], None, EXAMPLE
    if request.method == "POST":
        source = request.POST.get("source", "")
        try:
            published, changed = services.contract_publish(
                project=request.project, source=source, actor=actor_of(request))
            if not changed:
                errors = [f"No change: v{published.number} of {published.contract.name} already has this content."]
        except ValidationError as exc:
            errors = validation_messages(exc)
    counts = selectors.contract_fail_counts(project=request.project)
    contracts = list(selectors.contract_list(project=request.project).select_related("in_force"))
    for c in contracts:
        c.verdict_counts = counts.get(c.id, {"fails": 0, "total": 0})  # type: ignore[attr-defined]
    context = {"contracts": contracts, "errors": located(errors), "published": published, "source": source}
    template = "contracts/contract_list.html"
    if request.htmx:
        template += "#contracts"
    return render(request, template, context)


@require_GET
@project_member()
def contract_detail(request: ProjectRequest, name: str) -> HttpResponse:
    contract = selectors.contract_get(project=request.project, name=name)
    if contract is None:
        raise Http404("No such contract.")
    filters = {"contract": name, "status": request.GET.get("status", "")}
    page = Paginator(selectors.verdict_list(project=request.project, filters=filters), PAGE).get_page(
        request.GET.get("page"))
    context = {"contract": contract, "versions": contract.versions.order_by("-number"), "page": page,
               "status": filters["status"], "query": urlencode({"status": filters["status"]}) if filters["status"] else "",
               "counts": selectors.verdict_counts(version=contract.in_force) if contract.in_force else {}}
    template = "contracts/contract_detail.html"
    if request.htmx:
        template += "#verdicts"
    return render(request, template, context)


@require_POST
@project_member(Role.ADMIN)
def contract_toggle(request: ProjectRequest, name: str) -> HttpResponse:
    contract = selectors.contract_get(project=request.project, name=name)
    if contract is None:
        raise Http404("No such contract.")
    services.contract_set_enabled(contract=contract, enabled=not contract.enabled, actor=actor_of(request))
    return redirect("contracts:detail", project=request.project.slug, name=name)


@require_http_methods(["GET", "POST"])
@project_member(write=Role.REVIEWER)
def whatif_list(request: ProjectRequest) -> HttpResponse:
    errors, form = [], {"kind": "contract", "source": "", "contract": "", "version": "", "last": "100", "status": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in form}
        try:
            last = int(form["last"]) if form["last"] else None
        except ValueError:
            errors = ["last: must be a positive integer"]
        policy = form["kind"] == WhatIfJob.KIND_POLICY  # contract and version are a contract's fields
        if not errors:
            try:
                job = whatif.whatif_create(
                    project=request.project, actor=actor_of(request), kind=form["kind"] or "contract",
                    source=form["source"] or None, contract=None if policy else form["contract"] or None,
                    version=None if policy else form["version"] or None, last=last,
                    filters={"status": form["status"]} if form["status"] else {},
                )
                return redirect("contracts:whatif_detail", project=request.project.slug, job_id=job.pk)
            except ValidationError as exc:
                errors = validation_messages(exc)
    page = Paginator(selectors.whatif_list(project=request.project), PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "errors": located(errors), "form": form,
               "contracts": selectors.contract_list(project=request.project)}
    return render(request, "contracts/whatif_list.html", context)


def _job_or_404(request: ProjectRequest, job_id: int) -> WhatIfJob:
    job = selectors.whatif_get(project=request.project, job_id=job_id)
    if job is None:
        raise Http404("No such what-if job.")
    return job


@require_GET
@project_member()
def whatif_detail(request: ProjectRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(request, job_id)
    template = "contracts/whatif_detail.html"
    if request.htmx:
        template += "#job"
    return render(request, template, {"job": job})


@require_POST
@project_member(Role.REVIEWER)
def whatif_cancel(request: ProjectRequest, job_id: int) -> HttpResponse:
    job = whatif.whatif_cancel(job=_job_or_404(request, job_id))
    return render(request, "contracts/whatif_detail.html#job", {"job": job})
