"""Budgeted counterexample search.

Each try plays one episode with a seeded set of edits to its tool outputs (`perturb`), decided by
the given gate and checked against the given contracts. A try fails when a contract fails (the
policy let an unsafe action through, or a tool output broke a post-condition). Sizes grow from one
edit to `max_edits` over the budget; a failure found is then shrunk (each edit dropped in turn
while the failure remains) to the smallest counterexample, reported with its seed and edits so
`counterexample_replay` reproduces it exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from apps.contracts.engine import FAIL, Contract, check_many
from apps.episodes.environments.base import (
    Agent,
    Environment,
    Gate,
    Message,
    RoundEnd,
    ToolCall,
    ToolResult,
    Turn,
)
from apps.episodes.runner.gates import ListRecorder, PolicyGate
from apps.episodes.runner.loop import run_episode
from apps.experiments.stress.perturb import Bounds, Edit, edit_apply, edits_sample

Build = Callable[[], tuple[Environment, Mapping[str, Agent], Gate]]


class PerturbedEnvironment:
    """Wraps an environment: the results of the calls the edits target come back perturbed."""

    def __init__(self, env: Environment, *, edits: Sequence[Edit], seed: int):
        self.env = env
        self.edits = list(edits)
        self.rng = random.Random(seed)
        self.calls = 0
        self.applied: list[Edit] = []

    def __getattr__(self, name: str) -> Any:  # name, rounds, ... of the wrapped environment
        return getattr(self.env, name)

    @property
    def agents(self) -> Sequence[str]:
        return self.env.agents

    def reset(self, *, seed: int) -> None:
        self.env.reset(seed=seed)

    def instructions(self, agent: str) -> str:
        return self.env.instructions(agent)

    def turns(self) -> Sequence[Turn]:
        return self.env.turns()

    def tools(self, agent: str, phase: str = "") -> list[dict[str, Any]]:
        return self.env.tools(agent, phase)

    def view(self, agent: str, phase: str = ""):
        return self.env.view(agent, phase)

    def call(self, *, agent: str, call: ToolCall) -> ToolResult:
        out = self.env.call(agent=agent, call=call)
        n, self.calls = self.calls, self.calls + 1
        for edit in self.edits:
            if edit.call == n and out.error == "":
                result, applied = edit_apply(result=out.result, edit=edit, rng=self.rng)
                if applied is not None:
                    out = ToolResult(result=result, error=out.error, provenance=out.provenance, source=out.source,
                                     fault=out.fault)
                    self.applied.append(applied)
        return out

    def post(self, *, agent: str, message: Message) -> None:
        self.env.post(agent=agent, message=message)

    def end_round(self) -> RoundEnd:
        return self.env.end_round()

    def snapshot(self):
        return self.env.snapshot()

    def restore(self, snapshot) -> None:
        self.env.restore(snapshot)

    def metrics(self):
        return self.env.metrics()


@dataclass
class Attempt:
    seed: int
    edits: list[Edit]
    failed: bool
    contract: str = ""
    first_violating_step: int | None = None
    evidence: list = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, float]:
        return len(self.edits), sum(e.magnitude for e in self.edits)

    def as_dict(self) -> dict:
        return {"seed": self.seed, "edits": [e.as_dict() for e in self.edits], "failed": self.failed,
                "contract": self.contract, "first_violating_step": self.first_violating_step,
                "evidence": self.evidence[:5], "size": len(self.edits), "steps": self.steps}


def _step_dict(step) -> dict:
    return asdict(step)


def attempt_play(*, build: Build, contracts: list[Contract], seed: int, edits: Sequence[Edit],
                 rounds: int) -> Attempt:
    """One episode with these edits, checked against every contract."""
    env, agents, gate = build()
    wrapped = PerturbedEnvironment(env, edits=edits, seed=seed)
    recorder = ListRecorder()
    indexed = gate.indexing(recorder) if isinstance(gate, PolicyGate) else recorder  # provenance conditions
    run_episode(env=wrapped, agents=agents, gate=gate, recorder=indexed, seed=seed, max_rounds=rounds)
    steps = [_step_dict(s) for s in recorder.steps]
    verdicts = check_many(contracts, steps, ended=True) if contracts else []
    failing = next(((c, v) for c, v in zip(contracts, verdicts, strict=True) if v.status == FAIL), None)
    attempt = Attempt(seed=seed, edits=list(wrapped.applied), failed=failing is not None, steps=steps)
    if failing is not None:
        contract, verdict = failing
        attempt.contract, attempt.first_violating_step = contract.name, verdict.first_violating_step
        attempt.evidence = list(verdict.evidence)
    return attempt


def counterexample_search(*, build: Build, contracts: list[Contract], seed: int, rounds: int, budget: int,
                          bounds: Bounds | None = None, on_progress: Callable[[int, Attempt | None], bool] | None = None,
                          ) -> dict:
    """Plays at most `budget` episodes. on_progress(episodes so far, best so far) returning False stops.

    Returns {"episodes", "found", "counterexample" (Attempt.as_dict or None), "baseline_failed"}.
    """
    bounds = bounds or Bounds()
    used = 0
    baseline = attempt_play(build=build, contracts=contracts, seed=seed, edits=[], rounds=rounds)
    used += 1
    if baseline.failed:  # no perturbation needed: the unperturbed episode already fails
        return {"episodes": used, "found": True, "baseline_failed": True, "counterexample": baseline.as_dict()}
    best: Attempt | None = None
    stopped = False
    while used < budget and best is None and not stopped:
        size = 1 + min(bounds.max_edits - 1, (used * bounds.max_edits) // max(budget, 1))
        rng = random.Random(f"{seed}:{used}")
        attempt = attempt_play(build=build, contracts=contracts, seed=seed,
                               edits=edits_sample(rng=rng, size=size, bounds=bounds), rounds=rounds)
        used += 1
        if attempt.failed and attempt.edits:
            best = attempt
        if on_progress is not None and on_progress(used, best) is False:
            stopped = True
    while best is not None and len(best.edits) > 1 and used < budget and not stopped:
        smaller = None
        for i in range(len(best.edits)):
            if used >= budget:
                break
            trial = attempt_play(build=build, contracts=contracts, seed=seed,
                                 edits=best.edits[:i] + best.edits[i + 1:], rounds=rounds)
            used += 1
            if trial.failed and trial.edits:
                smaller = trial
                break
        if smaller is None:
            break
        best = smaller
    return {"episodes": used, "found": best is not None, "baseline_failed": False,
            "counterexample": best.as_dict() if best else None, "stopped": stopped}


def counterexample_replay(*, build: Build, contracts: list[Contract], counterexample: dict, rounds: int) -> Attempt:
    """Plays a reported counterexample again from its seed and (resolved) edits."""
    edits = [Edit.from_dict(e) for e in counterexample["edits"]]
    return attempt_play(build=build, contracts=contracts, seed=counterexample["seed"], edits=edits, rounds=rounds)
