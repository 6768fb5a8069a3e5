"""What happens between two rounds of a run: commit, and under the institutional regime, govern.

A market round is one governance round. After each round the round's blocked and terminated
decisions become violations and the project's runtime contracts see its steps (both as the checks
queue would do moments later, here in the round's transaction so the evidence is complete); then
the Oracle records each agent's evidence for the round (its decisions, violations and the
environment's round metrics, such as the collusion tier) and the Controller moves agents along the
run's graph, applying and lifting sanctions. The next round's decisions see the new state: revoked
tools and argument bounds are enforced by the decision service, fines are charged to the agent in
the environment when it supports them. Finally the checkpoint is stored and the round commits.
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
from apps.governance.models import GraphVersion
from apps.governance.oracle import oracle_round
from apps.governance.selectors import graph_compiled
from apps.reviews.services import violations_from_decisions

# Rounds per transaction. A round's steps, decisions and governance are written when it ends (the
# next round's decisions see them), but commit, checkpoint, heartbeat and the cancel check come
# every COMMIT_ROUNDS rounds and after the last: a worker killed in between loses the uncommitted
# rounds whole, and its successor plays them again from the checkpoint, exactly as they were.
# One, for now: the Controller's log appends hold the project's log lock until the commit, so a
# transaction of several institutional rounds makes the project's other runs wait for it.
COMMIT_ROUNDS = 1


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
        """One transaction per round: on_round commits the round and opens the next one."""
        self._begin()
        try:
            yield
        except BaseException as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._atomic.__exit__(None, None, None)

    def _begin(self) -> None:
        # atomic() entered and left by hand: the runner, not a `with` block, draws round boundaries.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.recorder.begin()

    def on_round(self, checkpoint: Checkpoint) -> None:
        self.recorder.flush()
        if self.graph is not None:
            self._govern(checkpoint)
            checkpoint.environment = self.built.env.snapshot()  # fines may have changed it
        self.first_index = checkpoint.next_index
        if checkpoint.round % COMMIT_ROUNDS and checkpoint.round < self.run.rounds_total:
            self.recorder.begin()  # the next round's decisions see what governance just did
            return
        self.run.evidence = {**self.run.evidence, **self.evidence()}
        cancel = run_checkpoint_store(run=self.run, checkpoint=checkpoint, evidence=self.run.evidence)
        self._atomic.__exit__(None, None, None)
        self._begin()
        if cancel:
            raise RunCancelled

    def _govern(self, checkpoint: Checkpoint) -> None:
        """The round's governance, from the round's steps as written (not read back)."""
        episode = self.run.episode
        held = self.recorder.batch.take_written()
        if len(held) != checkpoint.next_index - self.first_index:  # a step written elsewhere: read them
            held = None
        violations_from_decisions(episode=episode, first_index=self.first_index, steps=held)
        if self.runtime_contracts:
            episode_check_runtime(episode=episode, versions=self.runtime_contracts)
        names = {self.run.agent_name(a): a for a in self.built.agents}
        metrics = self._round_metrics(names)
        moves = oracle_round(episode=episode, number=checkpoint.round, first_index=self.first_index,
                             end_index=checkpoint.next_index, metrics=metrics, agents=list(names), graph=self.graph,
                             held=held, histories=self.histories)
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
