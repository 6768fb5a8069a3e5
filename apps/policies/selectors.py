from collections.abc import Collection, Iterable, Mapping, Sequence
from difflib import unified_diff

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from apps.policies import engine, sql
from apps.policies.engine import provenance
from apps.policies.engine.values import found_in
from apps.policies.models import Approval, Decision, DecisionStatus, Policy, PolicyBinding, PolicyVersion
from apps.policies.records import Prefetched
from apps.tenancy.models import Project


def policy_list(*, project: Project) -> QuerySet[Policy]:
    return Policy.objects.filter(project=project).select_related("in_force")


def policy_get(*, project: Project, name: str) -> Policy | None:
    return Policy.objects.filter(project=project, name=name).select_related("in_force").first()


def version_list(*, policy: Policy) -> QuerySet[PolicyVersion]:
    return PolicyVersion.objects.filter(policy=policy).select_related("created_by").order_by("-number")


def version_get(*, policy: Policy, ref: str) -> PolicyVersion | None:
    """A version by number ("3") or by digest prefix (at least 6 characters)."""
    qs = PolicyVersion.objects.filter(policy=policy)
    if ref.isdigit():
        return qs.filter(number=int(ref)).first()
    if len(ref) >= 6:
        return qs.filter(digest__startswith=ref.lower()).first()
    return None


def version_diff(*, old: PolicyVersion, new: PolicyVersion) -> str:
    lines = unified_diff(
        old.source.splitlines(keepends=True), new.source.splitlines(keepends=True),
        fromfile=f"v{old.number} ({old.short})", tofile=f"v{new.number} ({new.short})",
    )
    return "".join(lines)


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) for colouring: meta (file names), hunk, add, del or ctx."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = {"+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append((kind, line))
    return out


def version_pair_default(*, policy: Policy) -> tuple[PolicyVersion | None, PolicyVersion | None]:
    """What the version diff compares when nobody chose: the version before the current one (the
    version in force, else the newest) and the current one; (None, None) while there is only one."""
    versions = PolicyVersion.objects.filter(policy=policy)
    new = policy.in_force if policy.in_force_id else versions.order_by("-number").first()
    if new is None:
        return None, None
    old = versions.filter(number__lt=new.number).order_by("-number").first()
    if old is None:  # the current one is v1: show what the versions after it changed
        old, new = new, versions.filter(number__gt=new.number).order_by("number").first()
    return (old, new) if old and new else (None, None)


def binding_list(*, project: Project) -> QuerySet[PolicyBinding]:
    return PolicyBinding.objects.filter(project=project).select_related("policy")


def decision_list(*, project: Project, filters: dict | None = None) -> QuerySet[Decision]:
    filters = filters or {}
    qs = Decision.objects.filter(project=project).select_related("episode")
    for name in ("verdict", "agent", "tool", "status"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("episode"):
        qs = qs.filter(episode__external_id=filters["episode"])
    return qs.order_by("-created_at", "-id")


def decision_get(*, project: Project, decision_id: int) -> Decision | None:
    return (
        Decision.objects.filter(project=project, pk=decision_id)
        .select_related("episode", "policy_version__policy")
        .first()
    )


def approval_queue(*, project: Project) -> QuerySet[Approval]:
    """Asks a reviewer can still answer. One past its deadline has left the queue; the expiry task
    (policies.tasks, every 10 s) applies its default, a read never does."""
    return (
        Approval.objects.filter(project=project, status=DecisionStatus.PENDING, deadline__gt=timezone.now())
        .select_related("decision__episode")
        .order_by("deadline")
    )


def approval_recent(*, project: Project, limit: int = 20) -> QuerySet[Approval]:
    return (
        Approval.objects.filter(project=project).exclude(status=DecisionStatus.PENDING)
        .select_related("decision__episode", "answered_by")
        .order_by("-answered_at")[:limit]
    )


class EpisodeProvenance:
    """The provenance index of one episode, as the policy engine asks for it (engine.ProvenanceView).

    Nothing is read until a condition asks; the first question fetches the values of every argument
    of the call and the episode's untrusted sources in one indexed statement, so a decision reads
    a few rows however long the episode is, and a policy without provenance conditions reads none.
    /decide fetches those rows with its context when the policy in force asks the index for the
    tool (`prefetched`, see policies.prefetch); a later question reads only what they lack.
    """

    def __init__(self, *, episode_id: int, arguments: dict, prefetched: Prefetched | None = None):
        self.episode_id = episode_id
        self.arguments = arguments
        self._known: dict[str, engine.Origin] = {}
        self._asked: set[str] = set()
        self._sources: dict[str, int] | None = None
        if prefetched is not None:
            self._load(prefetched.values, prefetched.rows, sources=True)

    def origins(self, values: Collection[str]) -> Mapping[str, engine.Origin]:
        missing = [v for v in values if v not in self._asked]
        if missing:
            if not self._asked:
                missing += [f.value for f in found_in(self.arguments)]
            self._read(missing)
        return {v: self._known[v] for v in values if v in self._known}

    def untrusted_sources(self) -> Mapping[str, int]:
        if self._sources is None:
            self._read([] if self._asked else [f.value for f in found_in(self.arguments)])
        return self._sources or {}

    def _read(self, values: list[str]) -> None:
        values = list(dict.fromkeys(v for v in values if v not in self._asked))
        want_sources = self._sources is None
        with connection.cursor() as cursor:
            cursor.execute(sql.PROVENANCE_READ_SQL, {"episode": self.episode_id, "values": values,
                                                     "sources": want_sources})
            rows = cursor.fetchall()
        self._load(values, rows, sources=want_sources)

    def _load(self, values: Collection[str], rows: Iterable[Sequence], *, sources: bool) -> None:
        """Takes in the rows read for `values` (and the source rows, when `sources`)."""
        self._asked.update(values)
        found: dict[str, int] = {}
        for value, t_step, t_source, u_step, u_source in rows:
            if value.startswith(provenance.SOURCE_PREFIX):
                if sources and u_step is not None:
                    found[value[len(provenance.SOURCE_PREFIX):]] = u_step
                continue
            self._known[value] = engine.Origin(t_step, t_source, u_step, u_source)
        if sources:
            self._sources = found


def episode_provenance(*, episode_id: int, arguments: dict, prefetched: Prefetched | None = None
                       ) -> EpisodeProvenance:
    return EpisodeProvenance(episode_id=episode_id, arguments=arguments, prefetched=prefetched)
