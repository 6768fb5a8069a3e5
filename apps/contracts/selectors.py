"""Reads for contracts, versions and verdicts. Every query is scoped to one project."""

from collections.abc import Mapping

from django.db.models import Count, F, Q, QuerySet

from apps.contracts.models import Contract, ContractVersion, Verdict, VerdictStatus, WhatIfJob
from apps.tenancy.models import Project

# Steps are read as plain dicts with these fields: what the engine sees.
STEP_FIELDS = ("index", "kind", "actor", "agent", "role", "content", "tool", "arguments", "result", "error",
               "provenance", "source", "tokens_in", "tokens_out", "cost", "started_at", "ended_at", "attributes")


def contract_list(*, project: Project) -> QuerySet[Contract]:
    return (
        Contract.objects.filter(project=project)
        .annotate(
            version_count=Count("versions", distinct=True),
        )
        .order_by("name")
    )


def contract_get(*, project: Project, name: str) -> Contract | None:
    return Contract.objects.filter(project=project, name=name).first()


def version_get(*, project: Project, name: str, ref: str | None = None) -> ContractVersion | None:
    """`ref` is a version number, a digest (or its prefix of 8+ chars), or None for the current one."""
    qs = ContractVersion.objects.filter(project=project, contract__name=name).select_related("contract")
    if not ref:
        return qs.filter(contract__in_force_id=F("id")).first()
    if ref.isdigit() and len(ref) < 8:
        return qs.filter(number=int(ref)).first()
    return qs.filter(digest__startswith=ref.lower()).order_by("-number").first() if len(ref) >= 8 else None


def versions_active(*, project: Project, runtime_only: bool = False) -> list[ContractVersion]:
    """The current version of every enabled contract: what episodes are checked against."""
    qs = ContractVersion.objects.filter(
        project=project, contract__enabled=True, contract__in_force_id=F("id")
    ).select_related("contract")
    if runtime_only:
        qs = qs.filter(runtime=True)
    return list(qs.order_by("contract__name"))


def verdict_list(*, project: Project, filters: Mapping[str, str] | None = None) -> QuerySet[Verdict]:
    """Filters: episode (external id), contract (name), status, version (digest prefix)."""
    filters = filters or {}
    qs = Verdict.objects.filter(project=project).select_related("episode", "version__contract")
    if filters.get("episode"):
        qs = qs.filter(episode__external_id=filters["episode"])
    if filters.get("contract"):
        qs = qs.filter(version__contract__name=filters["contract"])
    if filters.get("status") in VerdictStatus.values:
        qs = qs.filter(status=filters["status"])
    if filters.get("version"):
        qs = qs.filter(version__digest__startswith=filters["version"].lower())
    return qs.order_by("-checked_at", "-id")


def verdict_counts(*, version: ContractVersion) -> dict:
    rows = Verdict.objects.filter(version=version).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


def contract_fail_counts(*, project: Project) -> dict[int, dict]:
    rows = (
        Verdict.objects.filter(project=project)
        .values("version__contract_id")
        .annotate(fails=Count("id", filter=Q(status="fail")), total=Count("id"))
    )
    return {r["version__contract_id"]: {"fails": r["fails"], "total": r["total"]} for r in rows}


def whatif_list(*, project: Project) -> QuerySet[WhatIfJob]:
    return WhatIfJob.objects.filter(project=project).order_by("-created_at", "-id")


def whatif_get(*, project: Project, job_id: int) -> WhatIfJob | None:
    return WhatIfJob.objects.filter(project=project, pk=job_id).first()
