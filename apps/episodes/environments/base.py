"""What an episode is made of: the environment, the agents, the gate and the recorder. No Django.

One round of an episode (see `apps.episodes.runner.loop.run_episode`):

1. `Environment.turns()` names who acts and in which phase (a Cournot round is a `talk` turn per
   firm, then a `trade` turn per firm; an AgentDojo round is one turn of the user's agent).
2. In a turn the agent sees `Environment.view(agent)` and `Environment.tools(agent)` (OpenAI
   function format) and answers with `Message`s (free text: a `message` step) and `ToolCall`s. Each
   call is an `action` step; the `Gate` decides it (a `decision` step); an allowed or rewritten call
   runs in the environment and its `ToolResult` is an `observation` step, untrusted when the output
   came from outside the agent's principal (web page, email, another firm). The agent observes every
   `CallOutcome`, blocked ones included, and acts again until it returns no call.
3. `Environment.end_round()` clears the round (the market clears) and returns each agent's
   observations, recorded as `observation` steps of the environment and passed to `Agent.observe_round`.

Steps go to a `Recorder` as `StepRecord`s numbered from 0 by the loop; their fields mirror the trace
store's step fields, so the worker's recorder hands them to the trace services unchanged.

Resuming: after every round the loop hands the caller a `Checkpoint` (round number, next step
index, environment snapshot, each agent's state). A caller that commits the round's steps and the
checkpoint together can restart a killed episode from the last completed round with
`run_episode(resume=checkpoint)`: the environment and agents are restored, numbering continues at
`checkpoint.next_index`, so no step is duplicated or missing. Steps of an unfinished round were not
committed and are produced again. Environments and agents are therefore snapshot-able as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

JSON = Any  # a value json.dumps accepts

ALLOW, REWRITE, BLOCK, ASK, TERMINATE = "allow", "rewrite", "block", "ask", "terminate"
VERDICTS = (ALLOW, REWRITE, BLOCK, ASK, TERMINATE)
# Verdicts under which the call runs (with the gate's arguments).
RUNS = (ALLOW, REWRITE)

TRUSTED, UNTRUSTED = "trusted", "untrusted"


@dataclass(slots=True)
class Message:
    """Free text from an agent (its reply, a thought it shares): recorded as a `message` step."""

    content: str
    role: str = "assistant"


@dataclass(slots=True)
class ToolCall:
    """A call an agent asks for. `id` is the model's call id where there is one (LLM agents)."""

    tool: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass(slots=True)
class ToolResult:
    """What the environment answers to a call. `fault` is set when a fault injector changed it."""

    result: JSON = None
    error: str = ""
    provenance: str = TRUSTED
    source: str = ""
    fault: dict[str, Any] | None = None


@dataclass(slots=True)
class GateVerdict:
    """The gate's answer. `arguments` are the ones that run (rewritten ones on `rewrite`)."""

    verdict: str
    arguments: dict[str, Any]
    message: str = ""
    rule: str | None = None


@dataclass(slots=True)
class CallOutcome:
    """What an agent learns about one of its calls: the verdict and, if it ran, the result."""

    call: ToolCall
    verdict: GateVerdict
    result: ToolResult | None  # None when the call did not run (block, ask, terminate)


@dataclass(slots=True)
class Turn:
    """Who acts next; `prompt` is what the user asks at the start of the turn (a `message` step)."""

    agent: str
    phase: str = ""
    prompt: str = ""


@dataclass(slots=True)
class RoundEnd:
    """`observations[agent]` is what the agent learns when the round clears (JSON)."""

    observations: dict[str, JSON]
    done: bool = False


@dataclass(slots=True)
class StepRecord:
    """One trace step. Fields and values follow the trace store (`apps.traces.schema.STEP_FIELDS`)."""

    index: int
    kind: str  # message | action | observation | decision
    actor: str  # agent | user | tool | environment | governance
    agent: str = ""
    role: str = ""
    content: str = ""
    tool: str = ""
    arguments: dict[str, Any] | None = None
    result: JSON = None
    error: str = ""
    provenance: str = TRUSTED
    source: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The step as the trace store's ingest API takes it (empty fields left out); values are copies."""
        try:
            data = {name: _plain_copy(getattr(self, name)) for name in _STEP_RECORD_FIELDS}
        except _NotPlain:
            data = asdict(self)  # values other than JSON's: dataclasses' own deep copy
        return {k: v for k, v in data.items() if v not in (None, "", {}) or k in ("index", "kind")}


class _NotPlain(Exception):
    pass


_ATOMS = frozenset({str, int, float, bool, type(None)})


def _plain_copy(value: Any) -> Any:
    """dataclasses.asdict's deep copy for JSON values (dicts, lists, strings, numbers), at a fraction
    of its cost; raises _NotPlain for anything else."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {_plain_copy(k): _plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [_plain_copy(v) for v in value]
    raise _NotPlain


_STEP_RECORD_FIELDS = tuple(f.name for f in fields(StepRecord))


class Environment(Protocol):
    """A seeded, snapshot-able world. Tool names are unique within the environment."""

    name: str

    def reset(self, *, seed: int) -> None: ...
    @property
    def agents(self) -> Sequence[str]: ...
    def instructions(self, agent: str) -> str: ...
    def turns(self) -> Sequence[Turn]: ...
    def tools(self, agent: str, phase: str = "") -> list[dict[str, Any]]: ...
    def view(self, agent: str, phase: str = "") -> JSON: ...
    def call(self, *, agent: str, call: ToolCall) -> ToolResult: ...
    def post(self, *, agent: str, message: Message) -> None: ...
    def end_round(self) -> RoundEnd: ...
    def snapshot(self) -> JSON: ...
    def restore(self, snapshot: JSON) -> None: ...
    def metrics(self) -> JSON: ...


class Agent(Protocol):
    """A player. `reset` before the first round; `snapshot`/`restore` for resuming."""

    def reset(self, *, agent: str, seed: int, instructions: str) -> None: ...
    def act(self, *, view: JSON, tools: list[dict[str, Any]]) -> list[Message | ToolCall]: ...
    def observe(self, *, outcomes: Sequence[CallOutcome]) -> None: ...
    def observe_round(self, *, observation: JSON) -> None: ...
    def snapshot(self) -> JSON: ...
    def restore(self, snapshot: JSON) -> None: ...


@runtime_checkable
class Gate(Protocol):
    """What decides a call: Warden's decision service in the worker, the pure policy engine in tests.

    `index` is the step index the decision will occupy (for idempotent storage); `untrusted` says
    whether the agent has already seen untrusted content this episode. A gate that must wait for a
    reviewer (`ask`) either waits and returns the outcome or returns `ask`, which the loop treats as
    a call that did not run. `terminate` ends the episode.
    """

    def decide(self, *, agent: str, tool: str, arguments: dict[str, Any], index: int,
               untrusted: bool = False) -> GateVerdict: ...


@runtime_checkable
class Recorder(Protocol):
    """Where steps go: the trace services in the worker, a list in tests."""

    def record(self, step: StepRecord) -> None: ...


@dataclass(slots=True)
class Checkpoint:
    """State after a completed round; JSON-able via `as_dict` / `from_dict`."""

    round: int  # rounds completed
    next_index: int
    environment: JSON
    agents: dict[str, JSON]
    untrusted: list[str] = field(default_factory=list)  # agents that have seen untrusted content

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(round=data["round"], next_index=data["next_index"], environment=data["environment"],
                   agents=dict(data["agents"]), untrusted=list(data.get("untrusted", [])))


@dataclass(slots=True)
class EpisodeResult:
    status: str  # completed | terminated
    rounds: int
    steps: int  # steps recorded, resumed ones included
    metrics: JSON
    snapshot_before: JSON
    snapshot_after: JSON
    reason: str = ""  # why it terminated


class SpecError(ValueError):
    """A bad environment or agent specification; `field` is the path of the offending value."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def spec_fields(spec: Any, allowed: Sequence[str], where: str) -> Mapping[str, Any]:
    """Checks that a spec is a mapping with no field outside `allowed`; returns it."""
    if not isinstance(spec, Mapping):
        raise SpecError(where, "must be a mapping")
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", "unknown field")
    return spec
