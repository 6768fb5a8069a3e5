"""Writes for policies: publish (tests gate trust), activate, bind. Decisions live in decisions.py."""

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from apps.audit.services import governance_log_append
from apps.core.events import LogEvent
from apps.policies import engine
from apps.policies.models import Policy, PolicyBinding, PolicyVersion
from apps.tenancy.actors import Actor, actor_name, actor_user
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
def policy_publish(*, project: Project, source: str, actor: Actor, name: str | None = None,
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
    name_of_actor = actor_name(actor)
    # FOR NO KEY UPDATE serialises publishers of the policy without blocking the foreign-key checks
    # (FOR KEY SHARE) that transactions inserting bindings or versions make at commit; FOR UPDATE
    # would, and a publisher that then waits for the project's log lock would deadlock with them.
    policy, _ = Policy.objects.select_for_update(no_key=True).get_or_create(project=project, name=slug)
    if description is None and compiled.description:  # the document's own `description:`
        description = compiled.description[:2000]
    if description is not None and policy.description != description:
        policy.description = description
        policy.save(update_fields=["description"])
    version = PolicyVersion.objects.filter(policy=policy, digest=compiled.digest).first()
    if version is None:
        number = (PolicyVersion.objects.filter(policy=policy).aggregate(n=Max("number"))["n"] or 0) + 1
        version = PolicyVersion.objects.create(
            project=project, policy=policy, number=number, digest=compiled.digest, source=source,
            rule_count=len(compiled.rules), test_count=len(results),
            created_by=actor_user(actor),
        )
        governance_log_append(
            project=project, event=LogEvent.POLICY_PUBLISHED, actor=name_of_actor,
            data={"policy": slug, "version": number, "digest": compiled.digest, "rules": len(compiled.rules),
                  "tests_passed": len(results)},
        )
    if activate and policy.in_force_id != version.id:
        _activate(policy=policy, version=version, actor=name_of_actor)
    if bind_first and not PolicyBinding.objects.filter(project=project).exists():
        PolicyBinding.objects.create(project=project, policy=policy)
    return version


@transaction.atomic
def policy_activate(*, policy: Policy, version: PolicyVersion, actor: Actor) -> Policy:
    """Makes `version` (possibly an older one) the one /decide uses."""
    if version.policy_id != policy.id:
        raise ValidationError({"version": ["That version belongs to another policy."]})
    policy = Policy.objects.select_for_update(no_key=True).get(pk=policy.pk)  # see policy_publish
    if policy.in_force_id != version.id:
        _activate(policy=policy, version=version, actor=actor_name(actor))
    return policy


def _activate(*, policy: Policy, version: PolicyVersion, actor: str) -> None:
    previous = policy.in_force.digest if policy.in_force else None
    policy.in_force = version
    policy.updated_at = timezone.now()
    policy.save(update_fields=["in_force", "updated_at"])
    governance_log_append(
        project=policy.project, event=LogEvent.POLICY_ACTIVATED, actor=actor,
        data={"policy": policy.name, "version": version.number, "digest": version.digest, "previous": previous},
    )


@transaction.atomic
def binding_set(*, project: Project, policy: Policy, agent: str = "*", environment: str = "*",
                priority: int = 0, actor: Actor = None) -> PolicyBinding:
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
        project=project, event=LogEvent.POLICY_BOUND, actor=actor_name(actor),
        data={"policy": policy.name, "agent": agent, "environment": environment, "priority": priority},
    )
    return binding


@transaction.atomic
def binding_remove(*, binding: PolicyBinding, actor: Actor = None) -> None:
    data = {"policy": binding.policy.name, "agent": binding.agent, "environment": binding.environment}
    binding.delete()
    governance_log_append(project=binding.project, event=LogEvent.POLICY_UNBOUND,
                          actor=actor_name(actor), data=data)


# Keeps the earliest step on each side: a value seen again later changes nothing, and a row is
# rewritten only when the new batch moves one of its first appearances earlier.
_EARLIER = "(EXCLUDED.{side}_step IS NOT NULL AND (p.{side}_step IS NULL OR EXCLUDED.{side}_step < p.{side}_step))"
_PROVENANCE_SQL = f"""
INSERT INTO policies_provenancevalue AS p
       (episode_id, value, trusted_step, trusted_source, untrusted_step, untrusted_source)
SELECT %(episode)s::bigint, v.value, v.t_step, v.t_source, v.u_step, v.u_source
  FROM unnest(%(values)s::text[], %(t_steps)s::integer[], %(t_sources)s::text[], %(u_steps)s::integer[],
              %(u_sources)s::text[]) AS v (value, t_step, t_source, u_step, u_source)
ON CONFLICT (episode_id, value) DO UPDATE SET
   trusted_step = CASE WHEN {_EARLIER.format(side="trusted")} THEN EXCLUDED.trusted_step ELSE p.trusted_step END,
   trusted_source = CASE WHEN {_EARLIER.format(side="trusted")} THEN EXCLUDED.trusted_source ELSE p.trusted_source END,
   untrusted_step = CASE WHEN {_EARLIER.format(side="untrusted")} THEN EXCLUDED.untrusted_step
                         ELSE p.untrusted_step END,
   untrusted_source = CASE WHEN {_EARLIER.format(side="untrusted")} THEN EXCLUDED.untrusted_source
                           ELSE p.untrusted_source END
 WHERE {_EARLIER.format(side="trusted")} OR {_EARLIER.format(side="untrusted")}
"""


def provenance_record(*, episode_id: int, steps: list[dict]) -> int:
    """Adds the values of newly stored steps to the episode's provenance index; returns how many.

    Call inside the transaction that stores the steps, under the episode's row lock (which orders
    writers of one episode), so a decision never sees a step without its values.
    """
    origins = engine.provenance.origins_of(steps)
    if not origins:
        return 0
    values, t_steps, t_sources, u_steps, u_sources = [], [], [], [], []
    for value, origin in origins.items():
        values.append(value)
        t_steps.append(origin.trusted_step)
        t_sources.append(origin.trusted_source)
        u_steps.append(origin.untrusted_step)
        u_sources.append(origin.untrusted_source)
    with connection.cursor() as cursor:
        cursor.execute(_PROVENANCE_SQL, {"episode": episode_id, "values": values, "t_steps": t_steps,
                                         "t_sources": t_sources, "u_steps": u_steps, "u_sources": u_sources})
    return len(values)
