"""Decisions of an episode whose steps one writer alone produces (a worker's run), stored in batches.

`/decide` reads its context, decides and writes one decision per round trip pair, because any
runtime may write the episode at any time. A run's worker owns its episode (the run's lock), so it
can keep the context in memory and store a batch of decisions with the steps around them in a few
set-based statements. Each decision is still made by `decisions._record`, from the context /decide
would read at that moment, and stores the same Decision row, decision step, guard and
governance-log event:

- the episode, its guard and the bindings are read once (`DecisionBatch` takes the guard's row lock
  in `begin`, so an approval or narrowing of the episode waits for the batch instead of racing it);
- agents' governance states are read at every `begin` and `governance_read` (the Controller moves
  agents between rounds);
- untrusted steps are known from the steps passing through `step`;
- the provenance index is read only when a policy condition asks, after writing what is held, so
  it is exactly as current as /decide's;
- a verdict that is not routine (ask, terminate) is written what is held first, then decided
  again by `decision_make` itself.

Call `begin` inside the caller's transaction before deciding, `write` before anything reads the
episode, `begin` again after anything else changed the episode, and `governance_read` after
anything changed only its agents' governance states (the Controller between a run's rounds).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

from django.db import connection, transaction
from psycopg.types.json import Jsonb

from apps.audit.services import log_flush_soon, log_payload
from apps.audit.sql import OUTBOX_INSERT
from apps.policies import decisions, engine, selectors, sql
from apps.policies.models import Decision
from apps.policies.records import DecideContext, DecideInput, DecisionRecord, Guard
from apps.tenancy.models import Project
from apps.traces import schema
from apps.traces import services as traces
from apps.traces.models import Episode

ID_BLOCK = 64  # Decision ids taken from the sequence per round trip

_IDS_SQL = "SELECT nextval(pg_get_serial_sequence('policies_decision', 'id')) FROM generate_series(1, %s)"
_AGENTS_SQL = ("SELECT agent, state, suspended, revoked_tools, arg_bounds FROM governance_agentstate"
               " WHERE project_id = %s AND agent = ANY(%s::text[])")

# Every Decision of the batch through COPY (a fourth of the client's cost of one INSERT of unnested
# arrays), and every outbox row in decision order.
_DECISIONS_COPY = f"COPY policies_decision ({', '.join(sql.DECISION_COLUMNS)}) FROM STDIN"
_DECISION_COLUMNS = tuple((c, t == "jsonb") for c, t in sql.DECISION_COLUMNS.items())
_OUTBOX_SQL = (f"{OUTBOX_INSERT} SELECT %s::bigint, p.at, %s::text, 'decision', p.payload"
               " FROM unnest(%s::timestamptz[], %s::text[]) WITH ORDINALITY AS p (at, payload, n) ORDER BY p.n")
# The guard as the batch's last decision leaves it: one rev per decision, as /decide counts them.
_GUARD_SQL = ("UPDATE policies_episodeguard SET untrusted = %s, scanned_to = %s, counts = %s::jsonb,"
              " updated_at = %s, rev = rev + %s WHERE episode_id = %s AND rev = %s")


class _Provenance:
    """selectors.EpisodeProvenance that first stores what the batch holds: the index it reads is
    then as current as the one /decide reads."""

    def __init__(self, batch: DecisionBatch, episode_id: int, arguments: dict):
        self._batch = batch
        self._view = selectors.episode_provenance(episode_id=episode_id, arguments=arguments)

    def origins(self, values: Collection[str]) -> Mapping[str, engine.Origin]:
        self._batch.write()
        return self._view.origins(values)

    def untrusted_sources(self) -> Mapping[str, int]:
        self._batch.write()
        return self._view.untrusted_sources()


class DecisionBatch:
    """A run's decisions and steps, made in process and stored together (see the module's docstring)."""

    def __init__(self, *, project: Project, episode: Episode, agents: list[str], actor: str):
        self.project = project
        self.episode = episode
        self.agents = agents
        self.actor = actor
        self.context: DecideContext | None = None
        self.governance: dict[str, dict] = {}
        self.steps: list[dict] = []  # held: the loop's steps and the decisions' steps, in index order
        self.normalised: list[dict] = []  # held steps passed through schema.step_normalize, not yet written
        self.records: list[DecisionRecord] = []
        self.keep_written = False  # keep the steps, as stored, for the caller (`take_written`)
        # The caller records decision violations and feeds runtime contracts itself, in the writing
        # transaction (what the steps task does): no steps task is promised for these steps.
        self.checks_done = False
        self.written: list[dict] = []
        self._ids: list[int] = []
        self._untrusted_at = -1  # the highest index of an untrusted step known

    def begin(self) -> None:
        """Reads what decisions need and locks the episode's guard. Call inside the transaction."""
        self.write()
        context = sql.decide_context(project_id=self.project.id, external_id=self.episode.external_id,
                                     agent=self.agents[0] if self.agents else "")
        assert context is not None, "the run's episode exists before its first decision"
        self._ids.append(context.decision_id)
        if context.untrusted_seen:
            self._untrusted_at = max(self._untrusted_at, context.episode.step_count - 1)
        context.guard = sql.guard_lock(episode=context.episode)
        self.context = context
        self.governance_read()

    def governance_read(self) -> None:
        """Reads the agents' governance states again (what /decide reads per call); nothing else."""
        self.governance = {agent: {"state": None, "suspended": False, "revoked_tools": [], "arg_bounds": {}}
                           for agent in self.agents}
        with connection.cursor() as cursor:
            cursor.execute(_AGENTS_SQL, [self.project.id, self.agents])
            for agent, state, suspended, revoked, bounds in cursor.fetchall():
                self.governance[agent] = {"state": state, "suspended": bool(suspended),
                                          "revoked_tools": list(revoked or ()), "arg_bounds": sql._json(bounds, {})}

    def step(self, step: dict) -> None:
        """Holds one of the loop's steps (numbered) until the next write."""
        if step.get("provenance") == "untrusted":
            self._untrusted_at = max(self._untrusted_at, step["index"])
        self.steps.append(step)

    def decide(self, data: DecideInput, *, index: int) -> Decision:
        """Decides the call as /decide would with the episode's steps up to `index` stored."""
        started = time.perf_counter()
        context = self.context
        assert context is not None, "begin() first"
        guard = context.guard
        context.episode.step_count = index
        context.untrusted_seen = self._untrusted_at >= guard.scanned_to
        context.governance = self.governance.get(data.agent) or {
            "state": None, "suspended": False, "revoked_tools": [], "arg_bounds": {}}
        context.decision_id = self._next_id()
        record = decisions._record(self.project, data, self.actor, context, started,
                                   provenance=_Provenance(self, context.episode.pk, data.arguments))
        if not decisions._routine(record):
            return self._decide_alone(data)
        record.row["step_index"] = index
        self.records.append(record)
        self.steps.append({**record.step, "index": index})
        # The guard as the next decision reads it.
        context.guard = Guard(record.guard.untrusted, record.guard.scanned_to, record.guard.counts,
                              guard.narrowings, guard.rev + 1)
        decision = Decision(**record.row)
        decision.episode = self.episode
        decision._state.adding = False
        decision.final_arguments = record.answer  # the runner's own values (stored masked if sensitive)
        return decision

    def _decide_alone(self, data: DecideInput) -> Decision:
        """An ask or a terminate: stored by the decision service's own transactional path."""
        self.write()
        decision = decisions.decision_make(project=self.project, data=data, actor=self.actor)
        self.begin()  # the guard and perhaps the episode's status changed
        return decision

    def _next_id(self) -> int:
        if not self._ids:
            with connection.cursor() as cursor:
                cursor.execute(_IDS_SQL, [ID_BLOCK])
                self._ids = [row[0] for row in cursor.fetchall()]
        return self._ids.pop(0)

    def _normalise(self) -> None:
        first = len(self.normalised)
        normalised = [schema.step_normalize(step, f"steps[{first + i}]") for i, step in enumerate(self.steps)]
        self.steps = []
        self.normalised.extend(normalised)
        if self.keep_written:
            self.written.extend(normalised)

    def write(self) -> int:
        """Stores the held steps and decisions; returns how many steps were new."""
        self._normalise()
        if not self.normalised:
            return 0
        normalised, records, self.normalised, self.records = self.normalised, self.records, [], []
        assert self.context is not None
        # The steps task is needed as /decide would judge it (runtime contracts, or a stopping verdict),
        # unless the caller does its work in this transaction (checks_done).
        work = not self.checks_done and (self.context.runtime_contracts
                                         or any(r.verdict.verdict in engine.STOPPING for r in records))
        stored = traces.steps_store_normalised(episode=self.episode, steps=normalised, work=work)
        if records:
            self._write_decisions(records)
        return stored

    def take_written(self) -> list[dict]:
        """The steps held or written since the last call, as they are (or will be) stored: normalised,
        numbered. Steps the decision service wrote itself (an ask, a terminate) are not among them."""
        self._normalise()
        written, self.written = self.written, []
        return written

    def _write_decisions(self, records: list[DecisionRecord]) -> None:
        assert self.context is not None
        last = records[-1].guard
        first_rev = self.context.guard.rev - len(records)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(_DECISIONS_COPY) as copy:
                for record in records:
                    row = record.row
                    copy.write_row([Jsonb(row[c]) if json else row[c]  # type: ignore[literal-required]
                                    for c, json in _DECISION_COLUMNS])
            cursor.execute(_OUTBOX_SQL, [self.project.id, self.actor, [r.guard.now for r in records],
                                         [log_payload(r.log) for r in records]])
            cursor.execute(_GUARD_SQL, [last.untrusted, last.scanned_to, Jsonb(last.counts), last.now, len(records),
                                        self.episode.pk, first_rev])
            if cursor.rowcount != 1:
                raise RuntimeError(f"episode {self.episode.external_id}: its guard moved under the batch's lock")
        project_id = self.project.id
        transaction.on_commit(lambda: log_flush_soon(project_id))
