"""Writes for policies: publish (tests gate trust), activate, bind. Decisions live in decisions.py."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from apps.audit.services import governance_log_append
from apps.policies import engine
from apps.policies.models import Policy, PolicyBinding, PolicyVersion
from apps.tenancy.models import Project

RESERVED_NAMES = {"new", "publish", "decisions", "approvals"}


def policy_compile_checked(*, source: str) -> tuple[engine.CompiledPolicy, list[engine.TestResult]]:
    """Compiles and runs the policy's own test cases. Raises ValidationError naming line and case."""
    try:
        compiled = engine.compile_policy(source)
    except engine.PolicyError as exc:
        raise ValidationError({"source": [str(i) for i in exc.issues]}) from None
    results = engine.run_tests(compiled)
    failed = [str(r) for r in results if not r.passed]
    if failed:
        raise ValidationError({"tests": failed})
    return compiled, results


@transaction.atomic
def policy_publish(*, project: Project, source: str, actor, name: str | None = None,
                   description: str | None = None, activate: bool = True, bind_first: bool = True) -> PolicyVersion:
    """Publishes `source` as a new immutable version (or returns the identical existing one).

    The policy's test cases must pass. The policy is named by `name` or by the document's `name`.
    The first policy of a project is bound to every agent and environment so /decide has one,
    unless `bind_first` is False (a policy published for one run's agents, which binds it itself).
    """
    compiled, results = policy_compile_checked(source=source)
    slug = slugify(name or compiled.name)[:100]
    if not slug:
        raise ValidationError({"name": ["Give the policy a name (letters, digits, hyphens)."]})
    if slug in RESERVED_NAMES:
        raise ValidationError({"name": [f"'{slug}' is reserved for a page; choose another name."]})
    actor_name = str(getattr(actor, "username", None) or actor or "system")
    policy, _ = Policy.objects.select_for_update().get_or_create(project=project, name=slug)
    if description is not None and policy.description != description:
        policy.description = description
        policy.save(update_fields=["description"])
    version = PolicyVersion.objects.filter(policy=policy, digest=compiled.digest).first()
    if version is None:
        number = (PolicyVersion.objects.filter(policy=policy).aggregate(n=Max("number"))["n"] or 0) + 1
        version = PolicyVersion.objects.create(
            project=project, policy=policy, number=number, digest=compiled.digest, source=source,
            rule_count=len(compiled.rules), test_count=len(results),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        governance_log_append(
            project=project, event="policy.published", actor=actor_name,
            data={"policy": slug, "version": number, "digest": compiled.digest, "rules": len(compiled.rules),
                  "tests_passed": len(results)},
        )
    if activate and policy.active_version_id != version.id:
        _activate(policy=policy, version=version, actor_name=actor_name)
    if bind_first and not PolicyBinding.objects.filter(project=project).exists():
        PolicyBinding.objects.create(project=project, policy=policy)
    return version


@transaction.atomic
def policy_activate(*, policy: Policy, version: PolicyVersion, actor) -> Policy:
    """Makes `version` (possibly an older one) the one /decide uses."""
    if version.policy_id != policy.id:
        raise ValidationError({"version": ["That version belongs to another policy."]})
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.active_version_id != version.id:
        _activate(policy=policy, version=version, actor_name=str(getattr(actor, "username", None) or actor))
    return policy


def _activate(*, policy: Policy, version: PolicyVersion, actor_name: str) -> None:
    previous = policy.active_version.digest if policy.active_version_id else None
    policy.active_version = version
    policy.updated_at = timezone.now()
    policy.save(update_fields=["active_version", "updated_at"])
    governance_log_append(
        project=policy.project, event="policy.activated", actor=actor_name,
        data={"policy": policy.name, "version": version.number, "digest": version.digest, "previous": previous},
    )


@transaction.atomic
def binding_set(*, project: Project, policy: Policy, agent: str = "*", environment: str = "*",
                priority: int = 0, actor=None) -> PolicyBinding:
    """Binds `policy` to agents/environments matching the globs (replacing that scope's binding)."""
    if policy.project_id != project.id:
        raise ValidationError({"policy": ["No such policy in this project."]})
    agent, environment = (agent or "*").strip(), (environment or "*").strip()
    for field, value in (("agent", agent), ("environment", environment)):
        if len(value) > 200:
            raise ValidationError({field: ["At most 200 characters."]})
    binding, _ = PolicyBinding.objects.update_or_create(
        project=project, agent=agent, environment=environment,
        defaults={"policy": policy, "priority": priority},
    )
    governance_log_append(
        project=project, event="policy.bound", actor=str(getattr(actor, "username", None) or actor or "system"),
        data={"policy": policy.name, "agent": agent, "environment": environment, "priority": priority},
    )
    return binding


@transaction.atomic
def binding_remove(*, binding: PolicyBinding, actor=None) -> None:
    data = {"policy": binding.policy.name, "agent": binding.agent, "environment": binding.environment}
    binding.delete()
    governance_log_append(project=binding.project, event="policy.unbound",
                          actor=str(getattr(actor, "username", None) or actor or "system"), data=data)
