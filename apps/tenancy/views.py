from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import form_apply_errors, validation_text
from apps.tenancy import selectors, services
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.forms import ApiKeyForm, MemberForm
from apps.tenancy.models import ApiKey, Invitation, Membership, Role


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:  # an invitation made since this session signed in
        services.invitations_accept(user=request.user)
    membership = Membership.objects.filter(user_id=request.user.pk or 0).select_related("project").first()
    if membership is None:
        return render(request, "tenancy/no_project.html")
    return redirect("project", project=membership.project.slug)


@require_http_methods(["GET", "POST"])
@project_member(Role.ADMIN)
def member_list(request: ProjectRequest) -> HttpResponse:
    form = MemberForm(request.POST or None)
    notice = None
    if request.method == "POST" and form.is_valid():
        try:
            added = services.member_add(project=request.project, actor=actor_of(request), **form.cleaned_data)
            notice = _added_notice(added, **form.cleaned_data)
            form = MemberForm()
        except ValidationError as exc:
            form_apply_errors(form, exc)
    context = {**_members_context(request), "form": form, "notice": notice}
    template = "tenancy/member_list.html"
    if request.htmx:
        template += "#members"
    return render(request, template, context)


@require_POST
@project_member(Role.ADMIN)
def member_remove(request: ProjectRequest, member_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, project=request.project, pk=member_id)
    error = None
    try:
        services.member_remove(membership=membership, actor=actor_of(request))
    except ValidationError as exc:
        error = validation_text(exc)
    context = {**_members_context(request), "form": MemberForm(), "error": error}
    return render(request, "tenancy/member_list.html#members", context)


@require_POST
@project_member(Role.ADMIN)
def invitation_withdraw(request: ProjectRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, project=request.project, pk=invitation_id)
    services.invitation_withdraw(invitation=invitation, actor=actor_of(request))
    return render(request, "tenancy/member_list.html#members", {**_members_context(request), "form": MemberForm()})


def _members_context(request: ProjectRequest) -> dict:
    return {"members": selectors.membership_list(project=request.project),
            "invitations": selectors.invitation_list(project=request.project)}


def _added_notice(added: str, *, username: str, role: str) -> str:
    """The same words for every non-member, whether or not an account has that username."""
    if added == services.MEMBER:
        return f"{username} is now {role}."
    return (f"Invited {username} as {role}. If an account has that username, it joins this project "
            "when it next signs in.")


@require_http_methods(["GET", "POST"])
@project_member(Role.ADMIN)
def api_key_list(request: ProjectRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = services.api_key_create(project=request.project, actor=actor_of(request), **form.cleaned_data)
            created = {"key": key, "raw": raw}
            form = ApiKeyForm()
        except ValidationError as exc:
            form_apply_errors(form, exc)
    context = {"keys": selectors.api_key_list(project=request.project), "form": form, "created": created}
    template = "tenancy/api_key_list.html"
    if request.htmx:
        template += "#keys"
    return render(request, template, context)


@require_POST
@project_member(Role.ADMIN)
def api_key_revoke(request: ProjectRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, project=request.project, pk=key_id)
    services.api_key_revoke(key=key, actor=actor_of(request))
    context = {"keys": selectors.api_key_list(project=request.project), "form": ApiKeyForm()}
    return render(request, "tenancy/api_key_list.html#keys", context)
