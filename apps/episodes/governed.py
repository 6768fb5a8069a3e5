"""What happens between two rounds of a run: commit, and under the institutional regime, govern.

A market round is one governance round. After each round the round's blocked and terminated
decisions become violations and the project's runtime contracts see its steps (both as the checks
queue would do moments later, here in the round's transaction so the evidence is complete); then
the Oracle records each agent's evidence for the round (its decisions, violations and the
environment's round metrics, such as the collusion tier) and the Controller moves agents along the
run's graph, applying and lifting sanctions. The next round's decisions see the new state: revoked
tools and argument bounds are enforced by the decision service, fines are charged to the agent in
the environment when it supports them. Every COMMIT_ROUNDS rounds (and after the last) the held
steps and decisions are written, the checkpoint is stored and the rounds commit together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.contracts.selectors import versions_active
from apps.contracts.services import episode_check_runtime
from apps.episodes.environments.base import Checkpoint
from apps.episodes.gateway import TraceRecorder
from apps.episodes.models import Run
from apps.episodes.regimes import INSTITUTIONAL
from apps.episodes.registry import Built
from apps.governance.controller import RunAgents
from apps.governance.models import GraphVersion
from apps.governance.oracle import oracle_round
from apps.governance.selectors import graph_compiled
from apps.reviews.models import Status, Violation
from apps.reviews.services import violations_from_decisions

# Rounds per transaction. A round's governance is done when it ends (the next round's decisions see
# it), but its steps and decisions are written, and commit, checkpoint, heartbeat and the cancel
# check come, every COMMIT_ROUNDS rounds and after the last: a worker killed in between loses the
# uncommitted rounds whole, and its successor plays them again from the checkpoint, exactly as they
# were. The Controller defers its log entries to the outbox and chains them just before the commit
# (controller.RunAgents), so the project's log lock is held for that moment only, not across the
# transaction's rounds (which stalled the project's other runs when the Controller appended).
COMMIT_ROUNDS = 10


class RunCancelled(Exception):
    """A cancel was requested; the run stops after the round that just committed."""


class Superseded(Exception):
    """A newer executor took the run over; this one must not commit."""


def run_checkpoint_store(*, run: Run, checkpoint: Checkpoint, evidence: dict) -> bool:
    """Inside a round's transaction: checkpoint, progress, evidence and heartbeat, fenced by `attempts`.

    Returns whether a cancel was requested (the run stops once this round has committed).
    """
    cancel = (Run.objects.select_for_update().filter(pk=run.pk, attempts=run.attempts)
              .values_list("cancel_requested", flat=True).first())
    if cancel is None:
        raise Superseded
    # Not Checkpoint.as_dict(): its deep copy of the environment's whole history costs more than the round.
    stored = {"round": checkpoint.round, "next_index": checkpoint.next_index, "environment": checkpoint.environment,
              "agents": checkpoint.agents, "untrusted": checkpoint.untrusted}
    Run.objects.filter(pk=run.pk).update(checkpoint=stored, rounds_done=checkpoint.round,
                                         evidence=evidence, heartbeat_at=timezone.now())
    run.rounds_done = checkpoint.round
    return bool(cancel)


class RoundGovernance:
    def __init__(self, *, run: Run, built: Built, recorder: TraceRecorder, graph: GraphVersion | None):
        self.run = run
        self.built = built
        self.recorder = recorder
        self.graph = graph
        self.first_index = (run.checkpoint or {}).get("next_index", 0)
        self.moves: list[dict[str, Any]] = list(run.evidence.get("governance", {}).get("transitions", []))
        governance = run.evidence.get("governance", {})
        self.fines: dict[str, float] = dict(governance.get("fines", {}))
        self.states: dict[str, str] = dict(governance.get("states", {}))
        self._atomic: Any = None
        # Read once per execution: the runtime contracts in force, and each agent's recent evidence.
        self.runtime_contracts = versions_active(project=run.project, runtime_only=True) if graph else []
        self.histories: dict[str, list[dict]] = {}
        # The episode's policy violations by name, as this transaction recorded or read them.
        self.violations: dict[str, Violation | None] = {}
        self.agents: RunAgents | None = None
        if graph is not None:
            self.agents = RunAgents(project=run.project, version=graph,
                                    agents=[run.agent_name(a) for a in built.agents])
        # _govern records the round's decision violations and feeds runtime contracts in the round's
        # transaction, which is the whole of the steps task's work.
        recorder.batch.keep_written = recorder.batch.checks_done = graph is not None

    @classmethod
    def for_run(cls, *, run: Run, built: Built, recorder: TraceRecorder) -> RoundGovernance:
        graph = None
        if run.regime == INSTITUTIONAL and run.versions.get("graph_id"):
            graph = GraphVersion.objects.get(pk=run.versions["graph_id"], project_id=run.project_id)
        return cls(run=run, built=built, recorder=recorder, graph=graph)

    @contextmanager
    def transactions(self) -> Iterator[None]:
        """One transaction per COMMIT_ROUNDS rounds: on_round commits them and opens the next one."""
        self._begin()
        try:
            yield
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)

    def _end(self, exc: BaseException | None) -> None:
        try:
            if exc is None and self.agents is not None:
                self.agents.save()
            self._atomic.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        finally:
            self.violations = {}
            if self.agents is not None:
                self.agents.release()

    def _begin(self) -> None:
        # atomic() entered and left by hand: the runner, not a `with` block, draws round boundaries.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.recorder.begin()

    def on_round(self, checkpoint: Checkpoint) -> None:
        if self.graph is not None:
            self._govern(checkpoint)
        self.first_index = checkpoint.next_index
        if checkpoint.round % COMMIT_ROUNDS and checkpoint.round < self.run.rounds_total:
            # The next round's decisions see what governance just did (or a sanction applied by hand).
            self.recorder.batch.governance_read()
            return
        if self.graph is not None:
            checkpoint.environment = self.built.env.snapshot()  # fines may have changed it
        self.recorder.flush()
        self.run.evidence = {**self.run.evidence, **self.evidence()}
        cancel = run_checkpoint_store(run=self.run, checkpoint=checkpoint, evidence=self.run.evidence)
        self._end(None)
        self._begin()
        if cancel:
            raise RunCancelled

    def _govern(self, checkpoint: Checkpoint) -> None:
        """The round's governance, from the round's steps as written (not read back)."""
        episode = self.run.episode
        held = self.recorder.batch.take_written()
        if len(held) != checkpoint.next_index - self.first_index or self.runtime_contracts:
            # A step written elsewhere (an ask, a terminate), or contracts that read the trace: write
            # what is held, then read.
            self.recorder.flush()
            if len(held) != checkpoint.next_index - self.first_index:
                held = None
        recorded = violations_from_decisions(episode=episode, first_index=self.first_index, steps=held,
                                             known=self.violations)
        first_seen = None
        if self.runtime_contracts:
            episode_check_runtime(episode=episode, versions=self.runtime_contracts)
        elif held is not None:
            # The round's steps are visible to this transaction alone, so the violations first seen in
            # them are those it just recorded (the Oracle need not read them back).
            first_seen = [(v.agent, v.severity, v.first_step_index) for v in recorded
                          if v.status != Status.DISMISSED and v.first_step_index is not None
                          and self.first_index <= v.first_step_index < checkpoint.next_index]
        names = {self.run.agent_name(a): a for a in self.built.agents}
        metrics = self._round_metrics(names)
        moves = oracle_round(episode=episode, number=checkpoint.round, first_index=self.first_index,
                             end_index=checkpoint.next_index, metrics=metrics, agents=list(names), graph=self.graph,
                             held=held, histories=self.histories, run_agents=self.agents, violations=first_seen)
        compiled = graph_compiled(self.graph)
        for agent, plain in names.items():
            # A fine is charged for every round spent in a state that carries one (as in training).
            state = self.states.get(plain, compiled.initial)
            for sanction in compiled.states[state].sanctions if state in compiled.states else ():
                if sanction["kind"] == "fine":
                    self._fine(plain, float(sanction["details"].get("amount", 0)))
            if moves.get(agent):
                self.states[plain] = moves[agent]
                self.moves.append({"round": checkpoint.round, "agent": plain, "to": moves[agent]})

    def _round_metrics(self, names: dict[str, str]) -> dict[str, Any]:
        """The environment's metrics so far (a market's are over its window): numbers, and {agent: number}
        maps keyed by Warden's agent names; booleans count as 0/1 (`severe`)."""
        scoped = {plain: warden for warden, plain in names.items()}
        out: dict[str, Any] = {}
        for name, value in (self.built.env.metrics() or {}).items():
            if isinstance(value, bool | int | float):
                out[name] = float(value)
            elif isinstance(value, dict) and value and set(value) <= set(scoped):
                out[name] = {scoped[k]: v for k, v in value.items() if isinstance(v, int | float)}
        return out

    def _fine(self, agent: str, amount: float) -> None:
        self.fines[agent] = self.fines.get(agent, 0) + amount
        charge = getattr(self.built.env, "fine", None)
        if callable(charge):
            charge(agent=agent, amount=amount)

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.graph is not None:
            out["governance"] = {"graph": self.graph.digest, "transitions": self.moves, "fines": self.fines,
                                 "states": self.states}
        return out

    def recording(self) -> dict[str, Any]:
        """Each LLM agent's requests and responses, enough to replay the run without the endpoint."""
        return {name: list(agent.exchanges) for name, agent in self.built.agents.items()
                if getattr(agent, "exchanges", None)}
