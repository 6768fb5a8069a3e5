"""Training learning firms in process, under a governance regime, before a traced evaluation.

Learning takes far more periods than a traced episode holds (10^4 to 10^6 in the
algorithmic-collusion literature), so it runs here without the trace store or the database: each
period every firm's `set_quantity` calls go through the pure policy engine (`PolicyGate`) with the
firm's current governance state, the market clears, and each learner is paid its profit minus the
fines its state carries. With a governance graph, every `block` periods make one evidence round per
firm (`metric.collusion_index`, `metric.collusion_tier`, `decisions.*`, `block_rate`), and the graph
engine moves the firm along the first transition that holds (restorative paths included), as the
Oracle and Controller do after each episode. Fines are charged per period spent in a fining state.

The returned `TrainingSummary` (rounds, sanctions, fines, blocked calls, convergence, outcome over
the last periods) is evidence for the evaluation episode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from apps.episodes.agents.qlearning import QLearningAgent
from apps.episodes.environments import market_metrics as mm
from apps.episodes.environments.base import RUNS
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.runner.gates import AgentGovernance, PolicyGate
from apps.governance.graph import Graph
from apps.governance.graph.engine import effect, is_clean, next_transition
from apps.policies.engine import CompiledPolicy, compile_policy

MAX_LISTED_TRANSITIONS = 200
_ALLOW_ALL = "name: training-allow-all\ndefault: allow\n"


@dataclass
class TrainingSummary:
    rounds: int
    block: int
    regime: str
    sanctions: int  # transitions into a state that carries sanctions
    transitions: list[dict[str, Any]]
    fines: dict[str, float]
    blocked: dict[str, int]
    final_states: dict[str, str | None]
    convergence: dict[str, dict[str, Any]]
    collusion_index: float  # over the last `window` periods
    collusion_tier: int
    output: dict[str, float]  # mean total output per market over the last `window` periods
    nash_output: dict[str, float]
    monopoly_output: dict[str, float]
    quantities: dict[str, dict[str, float]]  # each firm's greedy quantity at the end
    window: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_market(*, env: CournotEnvironment, agents: Mapping[str, QLearningAgent], rounds: int, seed: int,
                 policy: CompiledPolicy | None = None, graph: Graph | None = None, block: int = 25,
                 window: int = 1000) -> TrainingSummary:
    """Trains `agents` (one per firm) for `rounds` periods; see the module docstring."""
    config = env.config
    firms, markets = list(config.firms), [m.name for m in config.markets]
    missing = [f for f in firms if f not in agents]
    if missing:
        raise ValueError(f"agents: no learner for {', '.join(missing)}")
    for position, firm in enumerate(firms):
        agents[firm].reset(agent=firm, seed=seed * 1000 + position, instructions="")
        agents[firm].prepare(env.view(firm, "trade"))
    governed = policy is not None or graph is not None
    gate = PolicyGate(policy=policy or compile_policy(_ALLOW_ALL), environment=env.name)
    states: dict[str, str | None] = {f: graph.initial if graph else None for f in firms}
    history: dict[str, list[dict[str, Any]]] = {f: [] for f in firms}
    streak = dict.fromkeys(firms, 0)
    fines_now = dict.fromkeys(firms, 0.0)
    if graph:
        for firm in firms:
            fines_now[firm] = _apply_state(gate, graph, firm, states[firm])
    fines, blocked = dict.fromkeys(firms, 0.0), dict.fromkeys(firms, 0)
    transitions: list[dict[str, Any]] = []
    sanctions = 0
    nash = [sum(env.nash[i][m] for i in range(len(firms))) for m in range(len(markets))]
    mono = [sum(env.monopoly[i][m] for i in range(len(firms))) for m in range(len(markets))]
    block_output = [0.0] * len(markets)
    block_calls, block_blocked = dict.fromkeys(firms, 0), dict.fromkeys(firms, 0)
    tail_output = [0.0] * len(markets)
    tail_start = max(0, rounds - window)

    for t in range(rounds):
        produced: list[list[float]] = []
        for firm in firms:
            row = []
            for name, q in agents[firm].choose().items():
                if governed:
                    verdict = gate.decide(agent=firm, tool="set_quantity", arguments={"market": name, "quantity": q},
                                          index=t)
                    block_calls[firm] += 1
                    if verdict.verdict in RUNS:
                        q = float(verdict.arguments.get("quantity", q))
                    else:
                        q = 0.0
                        blocked[firm] += 1
                        block_blocked[firm] += 1
                row.append(q)
            produced.append(row)
        for m in range(len(markets)):
            total = sum(row[m] for row in produced)
            block_output[m] += total
            if t >= tail_start:
                tail_output[m] += total
        for i, firm in enumerate(firms):
            rewards, rivals = {}, {}
            fine = fines_now[firm]
            fines[firm] += fine
            for m, mk in enumerate(config.markets):
                total = sum(row[m] for row in produced)
                price = max(0.0, mk.a - mk.b * total)
                rewards[mk.name] = (price - config.costs[i][m]) * produced[i][m] - fine / len(markets)
                rivals[mk.name] = total - produced[i][m]
            agents[firm].learn(rewards=rewards, rivals=rivals)
        if graph and (t + 1) % block == 0:
            ci = sum(mm.collusion_index(total=block_output[m] / block, nash_total=nash[m], monopoly_total=mono[m])
                     for m in range(len(markets))) / len(markets)
            tier = mm.collusion_tier(mm.TierInput(ci, 0, 0.0))
            for firm in firms:
                calls = block_calls[firm]
                values = {"metric.collusion_index": ci, "metric.collusion_tier": tier, "decisions.total": calls,
                          "decisions.blocked": block_blocked[firm], "decisions.allowed": calls - block_blocked[firm],
                          "block_rate": block_blocked[firm] / calls if calls else 0.0, "steps": 3 * calls,
                          "violations.total": 0}
                evidence = {"values": values, "marks": {}}
                history[firm].insert(0, evidence)
                del history[firm][50:]
                streak[firm] = streak[firm] + 1 if is_clean(evidence) else 0
                move = next_transition(graph, state=states[firm], history=history[firm], clean_streak=streak[firm])
                if move is not None and move.target != states[firm]:
                    if graph.states[move.target].sanctions:
                        sanctions += 1
                    if len(transitions) < MAX_LISTED_TRANSITIONS:
                        transitions.append({"round": t + 1, "agent": firm, "from": states[firm], "to": move.target,
                                            "when": move.label})
                    states[firm] = move.target
                    streak[firm] = 0
                    fines_now[firm] = _apply_state(gate, graph, firm, move.target)
                block_calls[firm] = block_blocked[firm] = 0
            block_output = [0.0] * len(markets)

    seen = rounds - tail_start or 1
    output = {name: tail_output[m] / seen for m, name in enumerate(markets)}
    ci = sum(mm.collusion_index(total=output[name], nash_total=nash[m], monopoly_total=mono[m])
             for m, name in enumerate(markets)) / len(markets)
    for firm in firms:
        agents[firm].freeze()
    return TrainingSummary(
        rounds=rounds, block=block, regime="institutional" if graph else ("policy" if policy else "ungoverned"),
        sanctions=sanctions, transitions=transitions, fines=fines, blocked=blocked, final_states=states,
        convergence={f: agents[f].convergence() for f in firms}, collusion_index=ci,
        collusion_tier=mm.collusion_tier(mm.TierInput(ci, 0, 0.0)), output=output,
        nash_output={name: nash[m] for m, name in enumerate(markets)},
        monopoly_output={name: mono[m] for m, name in enumerate(markets)},
        quantities={f: agents[f].greedy() for f in firms}, window=seen,
    )


def _apply_state(gate: PolicyGate, graph: Graph, firm: str, state: str | None) -> float:
    """Puts the state's sanctions into the gate for `firm`; returns the fine charged per period."""
    sanctions = graph.states[state].sanctions if state in graph.states else ()
    imposed = effect(sanctions)
    gate.governance[firm] = AgentGovernance(state=state, suspended=imposed["suspended"],
                                            revoked_tools=imposed["revoked_tools"], arg_bounds=imposed["arg_bounds"])
    return float(sum(s["details"].get("amount", 0) for s in sanctions if s["kind"] == "fine"))
