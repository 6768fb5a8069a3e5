"""Writes for contracts: publishing versions, checking episodes (at the end and live), verdicts."""

from collections import OrderedDict

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb, JsonbLoader

from apps.audit.services import governance_log_append
from apps.contracts import engine, signals
from apps.contracts.models import Contract, ContractVersion, RuntimeState, Verdict
from apps.contracts.selectors import STEP_FIELDS, versions_active
from apps.core.documents import CompileCache
from apps.core.events import LogEvent
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project
from apps.traces import services as traces
from apps.traces.models import Episode, EpisodeStatus, Step

READ_CHUNK = 2000
MAX_SOURCE_CHARS = 100_000


_COMPILED = CompileCache(engine.compile_source)


def compiled(version: ContractVersion) -> engine.Contract:
    """Compiled once per process per version: versions are immutable, so the digest is the cache key."""
    return _COMPILED.get(digest=version.digest, source=version.source)


def contract_validate(*, source: str) -> engine.Contract:
    """Compiles `source` or raises ValidationError on `source` naming contract, field and line."""
    if not isinstance(source, str) or not source.strip():
        raise ValidationError({"source": ["is required"]})
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationError({"source": [f"at most {MAX_SOURCE_CHARS} characters"]})
    try:
        return engine.compile_source(source)
    except engine.ContractError as exc:
        raise ValidationError({"source": [str(exc)]}) from None


@transaction.atomic
def contract_publish(*, project: Project, source: str, actor: Actor) -> tuple[ContractVersion, bool]:
    """Publishes `source` as the contract's current version; returns (version, changed).

    Versions are immutable and unique by content: publishing the current content again changes
    nothing (changed=False); publishing an older version's content makes that version current again.
    """
    actor = actor_name(actor)
    parsed = contract_validate(source=source)
    contract, _ = Contract.objects.select_for_update().get_or_create(
        project=project, name=parsed.name, defaults={"description": parsed.description}
    )
    if contract.in_force_id is not None and contract.in_force.digest == parsed.digest:
        return contract.in_force, False
    now = timezone.now()
    version = contract.versions.filter(digest=parsed.digest).first()
    if version is None:
        latest = contract.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = ContractVersion.objects.create(
            project=project, contract=contract, number=latest + 1, digest=parsed.digest, source=source,
            severity=parsed.severity, runtime=parsed.runtime, created_by=actor, created_at=now,
        )
    contract.in_force, contract.description, contract.updated_at = version, parsed.description, now
    contract.save(update_fields=["in_force", "description", "updated_at"])
    governance_log_append(
        project=project, event=LogEvent.CONTRACT_PUBLISHED, actor=actor,
        data={"contract": contract.name, "version": version.number, "digest": version.digest,
              "severity": version.severity, "runtime": version.runtime},
    )
    return version, True


@transaction.atomic
def contract_set_enabled(*, contract: Contract, enabled: bool, actor: Actor) -> Contract:
    actor = actor_name(actor)
    contract.enabled, contract.updated_at = enabled, timezone.now()
    contract.save(update_fields=["enabled", "updated_at"])
    governance_log_append(project=contract.project, event=LogEvent.CONTRACT_PUBLISHED, actor=actor,
                          data={"contract": contract.name, "enabled": enabled})
    return contract


def episode_steps(*, episode: Episode, start: int = 0):
    """The episode's steps from `start`, in index order, as engine dicts.

    Long episodes stream through a server-side cursor in chunks (bounded memory); short ones are
    read in one round trip, which is most of the cost of checking them.
    """
    if episode.step_count - start <= READ_CHUNK:
        return _steps_short(episode.pk, start)
    qs = Step.objects.filter(episode_id=episode.pk, index__gte=start).order_by("index").values(*STEP_FIELDS)
    return qs.iterator(chunk_size=READ_CHUNK)


_STEP_COLUMNS = ", ".join('"%s"' % c for c in STEP_FIELDS)  # noqa: UP031 - SQL identifiers, not user input
_STEP_SQL = f'SELECT {_STEP_COLUMNS} FROM traces_step WHERE episode_id = %s AND "index" >= %s ORDER BY "index"'


def _steps_short(episode_id: int, start: int) -> list[dict]:
    """One plain query, JSON decoded by psycopg: a third of the ORM's per-row cost on the check path."""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.adapters.register_loader("jsonb", JsonbLoader)
        raw.execute(_STEP_SQL, [episode_id, start])
        return [dict(zip(STEP_FIELDS, row, strict=True)) for row in raw.fetchall()]


_VERDICT_FIELDS = ("status", "first_violating_step", "evidence", "steps_checked", "at_runtime", "checked_at")
_VERDICT_UPSERT = (
    "INSERT INTO contracts_verdict (project_id, episode_id, version_id, {fields}) "
    "SELECT * FROM UNNEST(%s::bigint[], %s::bigint[], %s::bigint[], %s::varchar[], %s::integer[], %s::jsonb[], "
    "%s::integer[], %s::boolean[], %s::timestamptz[]) "
    "ON CONFLICT (episode_id, version_id) DO UPDATE SET {updates} RETURNING id, version_id"
).format(fields=", ".join(_VERDICT_FIELDS), updates=", ".join(f"{f} = EXCLUDED.{f}" for f in _VERDICT_FIELDS))


def _store(*, episode: Episode, results: list[tuple[ContractVersion, engine.Verdict, str, bool]]) -> list[Verdict]:
    """Upserts the verdicts in one statement; each failed one is sent as `contract_failed`.

    Plain SQL rather than bulk_create: on the check path the ORM's per-field preparation cost more
    CPU than checking the episode itself.
    """
    now = timezone.now()
    rows = [Verdict(project_id=episode.project_id, episode=episode, version=version, status=v.status,
                    first_violating_step=v.first_violating_step, evidence=v.evidence, steps_checked=v.steps_checked,
                    at_runtime=at_runtime, checked_at=now)
            for version, v, _agent, at_runtime in results]
    with connection.cursor() as cursor:
        cursor.execute(_VERDICT_UPSERT, [
            [r.project_id for r in rows], [episode.pk] * len(rows), [r.version.pk for r in rows],
            [r.status for r in rows], [r.first_violating_step for r in rows], [Jsonb(r.evidence) for r in rows],
            [r.steps_checked for r in rows], [r.at_runtime for r in rows], [now] * len(rows),
        ])
        ids = dict((version_id, pk) for pk, version_id in cursor.fetchall())
    for row in rows:
        row.pk = ids[row.version.pk]
        row._state.adding = False
    for version, verdict, agent, at_runtime in results:
        if verdict.status != engine.FAIL:
            continue
        signals.contract_failed.send(
            sender=ContractVersion, episode=episode, name=version.contract.name, version=version.digest,
            severity=version.severity, first_step_index=verdict.first_violating_step,
            evidence={"contract_version": version.number, "rules": verdict.evidence,
                      "steps": sorted({i for e in verdict.evidence for i in e["steps"]}),
                      "contained": at_runtime},
            agent=agent,
        )
    return rows


def episode_check(*, episode: Episode, versions: list[ContractVersion] | None = None) -> list[Verdict]:
    """Checks the episode against every active contract in one pass over its steps; idempotent.

    Verdicts replace earlier ones for the same (episode, version); failures become violations.
    A running episode gets `inconclusive` where only its end can decide.
    """
    episode = Episode.objects.get(pk=episode.pk)
    versions = versions_active(project=episode.project) if versions is None else versions
    if not versions:
        return []
    checker = engine.Checker([compiled(v) for v in versions])
    agents: dict[int, str] = {}
    for step in episode_steps(episode=episode):
        failed = checker.feed(step)
        if failed:
            agents[step["index"]] = step["agent"]
    results = checker.finish(ended=episode.status != EpisodeStatus.RUNNING)
    # Failures found only at the end (eventually, grounding, final answer) name a step not seen failing.
    unseen = {v.first_violating_step for v in results if v.status == engine.FAIL} - set(agents)
    if unseen:
        agents.update(Step.objects.filter(episode_id=episode.pk, index__in=unseen).values_list("index", "agent"))
    # A failure a runtime contract already caught live stays marked as caught (contained).
    caught = set(RuntimeState.objects.filter(episode=episode, failed=True).values_list("version_id", flat=True))
    with transaction.atomic():
        # Verdicts are derived data that a re-check rebuilds, so they need not wait for the WAL flush.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        return _store(episode=episode, results=[
            (version, verdict, agents.get(verdict.first_violating_step, ""),
             version.pk in caught and verdict.status == engine.FAIL)
            for version, verdict in zip(versions, results, strict=True)
        ])


# Live checking states kept in this worker process: (episode id, version id) -> (next index, state).
# Steps below a state's next index never change (ingestion refuses conflicting re-sends), so a state
# for a longer prefix is always valid: whichever of memory and the stored row got further is used.
# Memory saves decoding and re-encoding a growing state on every batch (runtimes often send one
# step at a time); the row is a snapshot, written every PERSIST_EVERY steps and at a failure.
_LIVE: OrderedDict = OrderedDict()
LIVE_CACHE_SIZE = 4096
PERSIST_EVERY = 256


def _live_remember(key: tuple, next_index: int, state: dict) -> None:
    _LIVE[key] = (next_index, state)
    _LIVE.move_to_end(key)
    while len(_LIVE) > LIVE_CACHE_SIZE:
        _LIVE.popitem(last=False)


def episode_check_runtime(*, episode: Episode, versions: list[ContractVersion] | None = None) -> list[Verdict]:
    """Feeds the live episode's new steps to its `runtime` contracts; a failure terminates the episode.

    Every step is read and checked once per contract (linear in the episode's length); steps that
    arrive after a gap in the indexes wait until it is filled. `versions`: the runtime contracts in
    force, when the caller read them already (a run reads them once).
    """
    if versions is None:
        versions = versions_active(project=episode.project, runtime_only=True)
    if not versions:
        return []
    failures: list[tuple[ContractVersion, engine.Verdict, str]] = []
    with transaction.atomic():
        locked = Episode.objects.select_for_update().get(pk=episode.pk)
        if locked.status != EpisodeStatus.RUNNING:
            for v in versions:
                _LIVE.pop((locked.pk, v.pk), None)
            return []
        stored = {rs.version_id: rs for rs in
                  RuntimeState.objects.filter(episode=locked, version__in=versions).defer("state")}
        live = []
        for version in versions:
            rs = stored.get(version.pk) or RuntimeState.objects.get_or_create(episode=locked, version=version)[0]
            if rs.failed:
                continue
            remembered = _LIVE.get((locked.pk, version.pk))
            if remembered is not None and remembered[0] >= rs.next_index:
                next_index, state = remembered
            else:
                next_index, state = rs.next_index, rs.state or compiled(version).start()
            live.append((version, rs, next_index, state))
        if not live:
            return []
        # Read the new steps once for all runtime contracts, stopping at a gap in the indexes.
        start = min(next_index for _, _, next_index, _ in live)
        new_steps = []
        for step in episode_steps(episode=locked, start=start):
            if step["index"] != start + len(new_steps):
                break
            new_steps.append(step)
        agents = {step["index"]: step["agent"] for step in new_steps}
        now = timezone.now()
        for version, rs, next_index, state in live:
            contract = compiled(version)
            checker = engine.Checker([contract], [state])
            for step in new_steps[next_index - start:]:
                next_index = step["index"] + 1
                if checker.feed(step):
                    break
            checker.sync()
            _live_remember((locked.pk, version.pk), next_index, state)
            failed = contract.failed(state)  # also a failure found before a rolled-back attempt
            if failed:
                verdict = contract.finish(state, ended=False)
                verdict.status = engine.FAIL
                failures.append((version, verdict, agents.get(verdict.first_violating_step, "")))
            if failed or next_index - rs.next_index >= PERSIST_EVERY:
                rs.state, rs.next_index, rs.failed, rs.updated_at = state, next_index, failed, now
                rs.save(update_fields=["state", "next_index", "failed", "updated_at"])
    rows = []
    if failures:
        with transaction.atomic():
            rows = _store(episode=locked, results=[(v, verdict, agent, True) for v, verdict, agent in failures])
        version, verdict, _ = failures[0]
        traces.episode_end(
            episode=locked, status=EpisodeStatus.TERMINATED,
            outcome={"success": False, "termination_reason":
                     f"contract {version.contract.name} v{version.number} failed at step {verdict.first_violating_step}"},
        )
    return rows
