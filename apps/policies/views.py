"""Policy pages: list, editor (validate via htmx, publish), versions with diff and re-activation,
bindings, decisions, and the approvals queue."""

from urllib.parse import urlencode

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import located, validation_errors, validation_text
from apps.policies import approvals, engine, replay_diff, selectors, services
from apps.policies.models import Approval, PolicyBinding, Verdict
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Role
from apps.traces.models import Episode

STARTER = """name: my-policy
default: block
rules:
  - id: reads
    tool: "read_*"
    effect: allow
tests:
  - name: reading is allowed
    call: {tool: read_file, arguments: {path: /tmp/a}}
    expect: allow
"""


def _policy_or_404(request: ProjectRequest, name: str):
    policy = selectors.policy_get(project=request.project, name=name)
    if policy is None:
        raise Http404("No such policy.")
    return policy


@require_GET
@project_member()
def policy_list(request: ProjectRequest) -> HttpResponse:
    context = {"policies": selectors.policy_list(project=request.project),
               "bindings": selectors.binding_list(project=request.project)}
    return render(request, "policies/policy_list.html", context)


def _check(source: str) -> dict:
    """Validation result for the editor: issues with lines, or the test results."""
    try:
        compiled = engine.compile_policy(source)
    except engine.PolicyError as exc:
        return {"issues": located(str(i) for i in exc.issues)}
    return {"compiled": compiled, "results": engine.run_tests(compiled)}


@require_http_methods(["GET", "POST"])
@project_member()
def policy_edit(request: ProjectRequest, name: str | None = None) -> HttpResponse:
    policy = _policy_or_404(request, name) if name else None
    source = policy.in_force.source if policy and policy.in_force else STARTER
    context: dict = {"policy": policy, "source": source, "check": None}
    if request.method == "POST":
        context["source"] = source = request.POST.get("source", "")
        context["check"] = _check(source)
        return render(request, "policies/policy_edit.html#result", context)
    return render(request, "policies/policy_edit.html", context)


@require_POST
@project_member(Role.ADMIN)
def policy_publish(request: ProjectRequest) -> HttpResponse:
    source = request.POST.get("source", "")
    try:
        version = services.policy_publish(project=request.project, source=source, actor=actor_of(request),
                                          name=request.POST.get("name") or None)
    except ValidationError as exc:
        # The source's problems and failing tests are what the check shows: printed once, there.
        others = [m if field == NON_FIELD_ERRORS else f"{field}: {m}"
                  for field, messages in validation_errors(exc).items() if field not in ("source", "tests")
                  for m in messages]
        context = {"source": source, "check": _check(source), "publish_errors": others}
        return render(request, "policies/policy_edit.html#result", context)
    response = HttpResponse(status=204)
    response["HX-Redirect"] = reverse("policies:detail", kwargs={"project": request.project.slug,
                                                                 "name": version.policy.name})
    return response


def _detail_context(request: ProjectRequest, policy) -> dict:
    return {"policy": policy, "versions": selectors.version_list(policy=policy),
            "bindings": selectors.binding_list(project=request.project).filter(policy=policy)}


def _diff_context(old, new) -> dict:
    diff = selectors.version_diff(old=old, new=new) if old and new else ""
    return {"old": old, "new": new, "diff": selectors.diff_lines(diff)}


@require_GET
@project_member()
def policy_detail(request: ProjectRequest, name: str) -> HttpResponse:
    """The versions, with the diff of the previous version against the current one already shown."""
    policy = _policy_or_404(request, name)
    old, new = selectors.version_pair_default(policy=policy)
    context = {**_detail_context(request, policy), **_diff_context(old, new)}
    return render(request, "policies/policy_detail.html", context)


@require_GET
@project_member()
def policy_diff(request: ProjectRequest, name: str) -> HttpResponse:
    policy = _policy_or_404(request, name)
    old = selectors.version_get(policy=policy, ref=request.GET.get("old", ""))
    new = selectors.version_get(policy=policy, ref=request.GET.get("new", ""))
    context = {**_detail_context(request, policy), **_diff_context(old, new)}
    template = "policies/policy_detail.html"
    if request.htmx:
        template += "#diff"
    return render(request, template, context)


@require_POST
@project_member(Role.ADMIN)
def policy_activate(request: ProjectRequest, name: str, number: int) -> HttpResponse:
    policy = _policy_or_404(request, name)
    version = get_object_or_404(policy.versions, number=number)
    policy = services.policy_activate(policy=policy, version=version, actor=actor_of(request))
    return render(request, "policies/policy_detail.html#versions", _detail_context(request, policy))


@require_POST
@project_member(Role.ADMIN)
def binding_add(request: ProjectRequest, name: str) -> HttpResponse:
    policy = _policy_or_404(request, name)
    error = None
    try:
        priority = int(request.POST.get("priority") or 0)
        services.binding_set(project=request.project, policy=policy, agent=request.POST.get("agent", "*"),
                             environment=request.POST.get("environment", "*"), priority=priority,
                             actor=actor_of(request))
    except ValueError:
        error = "Priority is a whole number."
    except ValidationError as exc:
        error = validation_text(exc)
    context = {**_detail_context(request, policy), "binding_error": error}
    return render(request, "policies/policy_detail.html#bindings", context)


@require_POST
@project_member(Role.ADMIN)
def binding_remove(request: ProjectRequest, name: str, binding_id: int) -> HttpResponse:
    policy = _policy_or_404(request, name)
    binding = get_object_or_404(PolicyBinding, project=request.project, pk=binding_id)
    services.binding_remove(binding=binding, actor=actor_of(request))
    return render(request, "policies/policy_detail.html#bindings", _detail_context(request, policy))


@require_GET
@project_member()
def decision_list(request: ProjectRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "").strip() for k in ("verdict", "agent", "tool", "episode")}
    decisions_qs = selectors.decision_list(project=request.project, filters=filters)
    page = Paginator(decisions_qs, 50).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in filters.items() if v})
    context = {"page": page, "filters": filters, "verdicts": Verdict.values, "query": query}
    template = "policies/decision_list.html"
    if request.htmx:
        template += "#table"
    return render(request, template, context)


def _approvals_context(request: ProjectRequest, **extra) -> dict:
    return {"pending": selectors.approval_queue(project=request.project),
            "recent": selectors.approval_recent(project=request.project),
            "can_answer": request.membership.allows(Role.REVIEWER), **extra}


@require_GET
@project_member()
def approval_list(request: ProjectRequest) -> HttpResponse:
    """The page; `?part=pending` or `?part=recent` is one table's rows, which static/js/live.js
    polls and merges row by row, so a note being typed and the focus stay where they are."""
    template = "policies/approval_list.html"
    part = request.GET.get("part")
    if part in ("pending", "recent"):
        template += f"#{part}"
    return render(request, template, _approvals_context(request))


@require_POST
@project_member(Role.REVIEWER)
def approval_answer(request: ProjectRequest, decision_id: int) -> HttpResponse:
    """Answers one ask. The answered row leaves the queue (the response replaces it with nothing) and
    the Recently answered table is refreshed out of band; the other rows are not touched."""
    approval = get_object_or_404(Approval, project=request.project, pk=decision_id)
    try:
        approvals.approval_answer(approval=approval, approve=request.POST.get("answer") == "approve",
                                  actor=actor_of(request), note=request.POST.get("note", "")[:2000])
    except ValidationError as exc:
        return render(request, "policies/_approval_error.html",
                      {"error": validation_text(exc), "decision_id": decision_id, "columns": 9})
    return render(request, "policies/_approval_answered.html", _approvals_context(request, oob=True))


@require_GET
@project_member()
def episode_replay_diff(request: ProjectRequest, episode_id: int) -> HttpResponse:
    """A recorded episode's calls decided again under a policy version chosen on the page."""
    episode = get_object_or_404(Episode, project=request.project, pk=episode_id)
    versions = list(replay_diff.policy_versions(project=request.project))
    chosen = next((v for v in versions if str(v.pk) == request.GET.get("version", "")), None)
    diff = replay_diff.episode_replay_diff(episode=episode, version=chosen) if chosen else None
    return render(request, "policies/replay_diff.html",
                  {"episode": episode, "versions": versions, "chosen": chosen, "diff": diff,
                   "recorded": (episode.versions or {}).get("policy", "")})
