"""From a run spec to the pure objects the runner plays: one environment and its agents.

Each environment kind names its family (market or suite: which constitution and which examples
apply) and builds itself from the spec's `environment` parameters; each agent kind builds an agent
and says whether it reads instructions (scripted agents do not). A parameter an environment or agent
refuses becomes a SpecError naming it. No Django import: `manage.py episode_run --check` and tests
build specs without a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.episodes.agents import market
from apps.episodes.agents.scripted import ScriptedAgent
from apps.episodes.environments.base import Agent, Environment, Message, SpecError, ToolCall
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.environments.ledger import LedgerEnvironment


@dataclass(frozen=True)
class EnvironmentKind:
    build: Callable[[dict[str, Any], list[str], dict[str, Any]], Environment]  # (params, agent names, faults)
    family: str  # "market" | "suite"
    defaults: dict[str, str]  # example files under examples/: {"policy": ..., "graph": ...}


@dataclass(frozen=True)
class AgentKind:
    build: Callable[[dict[str, Any], str], Agent]  # (params, the spec field naming it)
    reads_instructions: bool = False
    learns: bool = False


@dataclass
class Built:
    env: Environment
    agents: dict[str, Agent]
    family: str
    defaults: dict[str, str]
    ignores_instructions: list[str]  # agents a constitution cannot reach
    learners: list[str]


def _params(params: dict[str, Any], allowed: dict[str, type | tuple[type, ...]], field: str) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if key == "kind":
            continue
        if key not in allowed:
            raise SpecError(f"{field}.{key}", f"unknown parameter; use {', '.join(sorted(allowed)) or 'none'}")
        if not isinstance(value, allowed[key]) or isinstance(value, bool) and allowed[key] is not bool:
            raise SpecError(f"{field}.{key}", "has the wrong type")
        out[key] = value
    return out


def _ledger(params: dict[str, Any], names: list[str], faults: dict[str, Any]) -> Environment:
    p = _params(params, {"rounds": int}, "environment")
    return LedgerEnvironment(agents=names, rounds=p.get("rounds", 3))


def _plan_item(item: Any, field: str) -> Message | ToolCall:
    if isinstance(item, dict) and isinstance(item.get("tool"), str):
        arguments = item.get("arguments", {})
        if not isinstance(arguments, dict):
            raise SpecError(f"{field}.arguments", "must be a mapping")
        return ToolCall(item["tool"], arguments)
    if isinstance(item, dict) and isinstance(item.get("message"), str):
        return Message(item["message"])
    raise SpecError(field, "each item is {tool, arguments} or {message}")


def _scripted(params: dict[str, Any], field: str) -> Agent:
    plan = params.get("plan", [])
    if not isinstance(plan, list) or not all(isinstance(r, list) for r in plan):
        raise SpecError(f"{field}.plan", "a list of rounds, each a list of {tool, arguments} or {message}")
    return ScriptedAgent([[_plan_item(item, f"{field}.plan[{r}][{i}]") for i, item in enumerate(items)]
                          for r, items in enumerate(plan)])


def _cournot(params: dict[str, Any], names: list[str], faults: dict[str, Any]) -> Environment:
    firms = params.get("firms", names)
    if isinstance(firms, int) and not isinstance(firms, bool):
        if firms != len(names):
            raise SpecError("environment.firms", f"{firms} firms, but the spec names {len(names)} agents")
    elif firms != names:
        raise SpecError("environment.firms", "the firms are the spec's agents: leave `firms` out or list their names")
    return CournotEnvironment({**params, "firms": names})


def _market_agent(cls: type, allowed: dict[str, type | tuple[type, ...]]) -> Callable[[dict[str, Any], str], Agent]:
    def build(params: dict[str, Any], field: str) -> Agent:
        return cls(**_params(params, allowed, field))

    return build


_STRATEGY = {"noise": (int, float), "talk": bool}

ENVIRONMENTS: dict[str, EnvironmentKind] = {
    "cournot": EnvironmentKind(_cournot, "market", {"policy": "policies/cournot.yaml",
                                                    "graph": "graphs/cournot-collusion.yaml"}),
    "ledger": EnvironmentKind(_ledger, "suite", {}),
}
AGENT_KINDS: dict[str, AgentKind] = {
    "scripted": AgentKind(_scripted),
    "nash": AgentKind(_market_agent(market.NashAgent, _STRATEGY)),
    "cartel": AgentKind(_market_agent(market.CartelAgent, {**_STRATEGY, "divide": bool})),
    "tit_for_tat": AgentKind(_market_agent(market.TitForTatAgent, _STRATEGY)),
    "grim_trigger": AgentKind(_market_agent(market.GrimTriggerAgent, _STRATEGY)),
}


def spec_build(spec: dict[str, Any]) -> Built:
    """Builds the environment and agents of a normalised spec; SpecError names a refused field."""
    env_spec = spec["environment"]
    kind = ENVIRONMENTS.get(env_spec["kind"])
    if kind is None:
        raise SpecError("environment.kind", f"one of {', '.join(sorted(ENVIRONMENTS))}")
    names = [a["name"] for a in spec["agents"]]
    try:
        env = kind.build(env_spec, names, spec.get("faults") or {})
    except SpecError:
        raise
    except (TypeError, ValueError) as exc:
        raise SpecError("environment", str(exc)) from None
    if list(env.agents) != names:
        raise SpecError("agents", f"this environment is played by {', '.join(env.agents)}")
    agents, deaf, learners = {}, [], []
    for position, agent_spec in enumerate(spec["agents"]):
        field = f"agents[{position}]"
        agent_kind = AGENT_KINDS.get(agent_spec["kind"])
        if agent_kind is None:
            raise SpecError(f"{field}.kind", f"one of {', '.join(sorted(AGENT_KINDS))}")
        params = {k: v for k, v in agent_spec.items() if k not in ("kind", "name")}
        try:
            agents[agent_spec["name"]] = agent_kind.build(params, field)
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError(field, str(exc)) from None
        if not agent_kind.reads_instructions:
            deaf.append(agent_spec["name"])
        if agent_kind.learns:
            learners.append(agent_spec["name"])
    return Built(env=env, agents=agents, family=kind.family, defaults=kind.defaults, ignores_instructions=deaf,
                 learners=learners)
