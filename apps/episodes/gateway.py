"""The worker's Gate and Recorder: Warden's own decision and trace services, called in process.

A run's calls are decided as `decisions.decision_make` (the service behind POST /decide) decides
them, and its steps are stored by `traces.steps_ingest` (the service behind the batch ingest API),
so its decisions, steps and governance-log entries are those a runtime would produce. Because the
run's worker alone writes its episode, both go through a `policies.batch.DecisionBatch`: decided
in process from the context /decide would read, held, and stored together in a few set-based
statements when the round ends (or earlier, when a policy condition reads the provenance index).
Agents are known to Warden by their run-scoped names (`Run.agent_name`).

Steps are numbered by the runner loop; the gate checks each decision took the index the loop
expected, so a numbering slip fails the run instead of shuffling its trace.
"""

from __future__ import annotations

from typing import Any

from apps.episodes.environments.base import GateVerdict, StepRecord
from apps.policies import decisions
from apps.policies.batch import DecisionBatch
from apps.tenancy.models import Project
from apps.traces.models import Episode


class TraceRecorder:
    """Stores the loop's steps in the run's episode; call `flush` before anything reads the trace."""

    def __init__(self, *, project: Project, episode: Episode, agent_name, agents: list[str], actor: str):
        self.episode = episode
        self.agent_name = agent_name
        self.batch = DecisionBatch(project=project, episode=episode, agents=[agent_name(a) for a in agents],
                                   actor=actor)
        self.decided: set[int] = set()  # indexes the decision service wrote itself

    def record(self, step: StepRecord) -> None:
        if step.kind == "decision":
            if step.index not in self.decided:
                raise RuntimeError(f"step {step.index}: a decision the gate did not store")
            self.decided.discard(step.index)
            return
        data = step.as_dict()
        if data.get("agent"):
            data["agent"] = self.agent_name(data["agent"])
        self.batch.step(data)

    def begin(self) -> None:
        """Call at the start of each transaction and after anything else changed the episode or its agents."""
        self.batch.begin()

    def flush(self) -> int:
        """Writes the held steps and decisions (idempotent by index); returns how many steps were new."""
        return self.batch.write()


class WardenGate:
    """Decides each call through the decision service, as /decide does for a runtime."""

    def __init__(self, *, project: Project, episode: Episode, recorder: TraceRecorder, environment: str,
                 actor: str):
        self.project = project
        self.episode = episode
        self.recorder = recorder
        self.environment = environment
        self.actor = actor
        self.decisions = 0

    def decide(self, *, agent: str, tool: str, arguments: dict[str, Any], index: int,
               untrusted: bool = False) -> GateVerdict:
        decision = self.recorder.batch.decide(
            decisions.DecideInput(episode=self.episode.external_id, agent=self.recorder.agent_name(agent),
                                  tool=tool, arguments=arguments, untrusted=untrusted, environment=self.environment),
            index=index)
        if decision.step_index != index:
            raise RuntimeError(f"the decision took step {decision.step_index}, the runner expected {index}")
        self.recorder.decided.add(index)
        self.decisions += 1
        # An `ask` is not waited for: a worker must not hold its episode open on a reviewer. The
        # loop treats it as a call that did not run; the reviewer's answer stays on the decision.
        return GateVerdict(decision.outcome, dict(decision.final_arguments), decision.message, decision.rule or None)
