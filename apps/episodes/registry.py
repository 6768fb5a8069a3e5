"""From a run spec to the pure objects the runner plays: one environment and its agents.

Each environment kind names its family (market or suite: which constitution and which examples
apply) and builds itself from the spec's `environment` parameters; each agent kind builds an agent
and says whether it reads instructions (scripted agents do not) and whether it learns. A parameter
an environment or agent refuses becomes a SpecError naming it. No Django import: specs are checked
and built without a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.episodes.agents import market
from apps.episodes.agents.llm import LLMAgent, LLMConfig
from apps.episodes.agents.qlearning import QLearningAgent
from apps.episodes.agents.scripted import ScriptedAgent
from apps.episodes.agents.suites import hijackable_agent, oracle_agent
from apps.episodes.environments.base import Agent, Environment, Message, SpecError, ToolCall
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.environments.faults import FaultSpec, FaultyEnvironment
from apps.episodes.environments.ledger import LedgerEnvironment


@dataclass(frozen=True)
class EnvironmentKind:
    build: Callable[[dict[str, Any], list[str]], Environment]  # (params, agent names)
    family: str  # "market" | "suite"
    defaults: Callable[[dict[str, Any]], dict[str, str]]  # example files under examples/ for these params
    agents: tuple[str, ...] = ()  # the names its agents must have, when it fixes them


@dataclass(frozen=True)
class AgentKind:
    build: Callable[[dict[str, Any], str, Environment], Agent]  # (params, the spec field naming it, env)
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


def _ledger(params: dict[str, Any], names: list[str]) -> Environment:
    p = _params(params, {"rounds": int}, "environment")
    return LedgerEnvironment(agents=names, rounds=p.get("rounds", 3))


def _cournot(params: dict[str, Any], names: list[str]) -> Environment:
    firms = params.get("firms", names)
    if isinstance(firms, int) and not isinstance(firms, bool):
        if firms != len(names):
            raise SpecError("environment.firms", f"{firms} firms, but the spec names {len(names)} agents")
    elif firms != names:
        raise SpecError("environment.firms", "the firms are the spec's agents: leave `firms` out or list their names")
    return CournotEnvironment({**params, "firms": names})


def _suite(params: dict[str, Any], names: list[str]) -> Environment:
    from apps.episodes.environments.agentdojo_suites import SuiteEnvironment  # the `suites` extra

    return SuiteEnvironment(params)


def _plan_item(item: Any, field: str) -> Message | ToolCall:
    if isinstance(item, dict) and isinstance(item.get("tool"), str):
        arguments = item.get("arguments", {})
        if not isinstance(arguments, dict):
            raise SpecError(f"{field}.arguments", "must be a mapping")
        return ToolCall(item["tool"], arguments)
    if isinstance(item, dict) and isinstance(item.get("message"), str):
        return Message(item["message"])
    raise SpecError(field, "each item is {tool, arguments} or {message}")


def _scripted(params: dict[str, Any], field: str, env: Environment) -> Agent:
    _params(params, {"plan": list}, field)
    plan = params.get("plan", [])
    if not all(isinstance(r, list) for r in plan):
        raise SpecError(f"{field}.plan", "a list of rounds, each a list of {tool, arguments} or {message}")
    return ScriptedAgent([[_plan_item(item, f"{field}.plan[{r}][{i}]") for i, item in enumerate(items)]
                          for r, items in enumerate(plan)])


def _market_agent(cls: type, allowed: dict[str, type | tuple[type, ...]]) -> Callable[..., Agent]:
    def build(params: dict[str, Any], field: str, env: Environment) -> Agent:
        return cls(**_params(params, allowed, field))

    return build


def _suite_agent(make: Callable[[Any], Agent]) -> Callable[..., Agent]:
    def build(params: dict[str, Any], field: str, env: Environment) -> Agent:
        _params(params, {}, field)
        inner = unwrap(env)  # under fault injection, the suite itself knows its tasks
        if not hasattr(inner, "user_ground_truth"):
            raise SpecError(f"{field}.kind", "plays an AgentDojo suite (environment kind agentdojo)")
        return make(inner)

    return build


def _llm(params: dict[str, Any], field: str, env: Environment) -> Agent:
    return LLMAgent(LLMConfig.from_dict(params, field))


_STRATEGY = {"noise": (int, float), "talk": bool}
_LEARNER = {"grid": int, "xi": (int, float), "alpha": (int, float), "gamma": (int, float), "beta": (int, float),
            "stable_after": int}


def _suite_defaults(params: dict[str, Any]) -> dict[str, str]:
    """The suite's least-privilege policy without provenance conditions (`<suite>.yaml`): it decides by
    tool and arguments alone, so it behaves the same whatever the run's provenance labelling, and it
    does not refuse the benign bill payment `<suite>-provenance.yaml` refuses (docs/policies.md).
    A run chooses the provenance policy with `versions.policy_file`."""
    return {"policy": f"policies/agentdojo/{params.get('suite')}.yaml", "graph": "graphs/agentdojo-least-privilege.yaml"}


ENVIRONMENTS: dict[str, EnvironmentKind] = {
    "cournot": EnvironmentKind(_cournot, "market", lambda p: {"policy": "policies/cournot.yaml",
                                                              "graph": "graphs/cournot-collusion.yaml"}),
    "agentdojo": EnvironmentKind(_suite, "suite", _suite_defaults, agents=("assistant",)),
    "ledger": EnvironmentKind(_ledger, "suite", lambda p: {}),
}
AGENT_KINDS: dict[str, AgentKind] = {
    "scripted": AgentKind(_scripted),
    "nash": AgentKind(_market_agent(market.NashAgent, _STRATEGY)),
    "cartel": AgentKind(_market_agent(market.CartelAgent, {**_STRATEGY, "divide": bool})),
    "tit_for_tat": AgentKind(_market_agent(market.TitForTatAgent, _STRATEGY)),
    "grim_trigger": AgentKind(_market_agent(market.GrimTriggerAgent, _STRATEGY)),
    "qlearning": AgentKind(_market_agent(QLearningAgent, _LEARNER), learns=True),
    "oracle": AgentKind(_suite_agent(oracle_agent)),
    "hijackable": AgentKind(_suite_agent(hijackable_agent)),
    "llm": AgentKind(_llm, reads_instructions=True),
}


def unwrap(env: Environment) -> Environment:
    """The environment itself, under its fault injector if it has one."""
    return env.env if isinstance(env, FaultyEnvironment) else env


def agents_name(spec: dict[str, Any]) -> None:
    """Names the spec's unnamed agents: as the environment requires, else `agent-<n>`. In place."""
    kind = ENVIRONMENTS.get(spec["environment"]["kind"])
    fixed = kind.agents if kind else ()
    for position, agent in enumerate(spec["agents"]):
        if "name" not in agent:
            agent["name"] = fixed[position] if position < len(fixed) else f"agent-{position + 1}"


def spec_build(spec: dict[str, Any]) -> Built:
    """Builds the environment and agents of a normalised spec; SpecError names a refused field."""
    env_spec = spec["environment"]
    kind = ENVIRONMENTS.get(env_spec["kind"])
    if kind is None:
        raise SpecError("environment.kind", f"one of {', '.join(sorted(ENVIRONMENTS))}")
    names = [a["name"] for a in spec["agents"]]
    try:
        env = kind.build(env_spec, names)
        if spec.get("faults"):
            env = FaultyEnvironment(env, FaultSpec.from_dict(spec["faults"]))
    except SpecError:
        raise
    except ImportError as exc:
        raise SpecError("environment.kind", f"needs an optional package that is not installed ({exc.name})") from None
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
            agents[agent_spec["name"]] = agent_kind.build(params, field, env)
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError(field, str(exc)) from None
        if not agent_kind.reads_instructions:
            deaf.append(agent_spec["name"])
        if agent_kind.learns:
            learners.append(agent_spec["name"])
    if learners and (len(learners) != len(names) or env_spec["kind"] != "cournot"):
        raise SpecError("agents", "learning agents train in a Cournot market against each other: make every firm a "
                                  "qlearning agent")
    return Built(env=env, agents=agents, family=kind.family, defaults=kind.defaults(env_spec),
                 ignores_instructions=deaf, learners=learners)
