"""AgentDojo's suites (banking, slack, travel, workspace) as Warden environments.

An adapter over the pinned `agentdojo` package (the `suites` extra): the suite's own tools,
environment data, user tasks, injection tasks and their `utility` and `security` checks are used
unchanged. One episode is one user task, optionally attacked with one injection task:

    spec = {"suite": "banking", "user_task": "user_task_0", "injection_task": "injection_task_7",
            "attack": "important_instructions", "version": "v1.2"}

The attack places its text in the injection vectors the user task's ground truth reads (AgentDojo's
own attack classes decide where). A tool result is untrusted when it carries text from an injection
vector, i.e. data a third party controls (a bill, an email, a web page). Metrics follow AgentDojo:
`utility` (the user task's check) and `security` (the injection task's check: true when the attack
achieved its goal); `secure` is its negation and `success` is utility and secure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agentdojo.agent_pipeline.agent_pipeline import load_system_message
from agentdojo.agent_pipeline.tool_execution import tool_result_to_str
from agentdojo.attacks.attack_registry import ATTACKS, load_attack
from agentdojo.functions_runtime import FunctionCall, FunctionsRuntime
from agentdojo.task_suite.load_suites import get_suites

from apps.episodes.environments.base import (
    JSON,
    TRUSTED,
    UNTRUSTED,
    Message,
    RoundEnd,
    SpecError,
    ToolCall,
    ToolResult,
    Turn,
    spec_fields,
)
from apps.episodes.environments.text import carries, normalize

SUITES = ("banking", "slack", "travel", "workspace")
VERSION = "v1.2"
DEFAULT_ATTACK = "important_instructions"
AGENT = "assistant"
# Attacks that address the model by name need a pipeline name AgentDojo knows; any will do for
# the scripted agents, an LLM run names its own model.
DEFAULT_TARGET_MODEL = "gpt-4o-2024-05-13"
MIN_MARKER_CHARS = 4  # shorter vector texts would mark unrelated output as untrusted


class _Target:
    """The little of an AgentDojo pipeline an attack reads: its name."""

    def __init__(self, name: str):
        self.name = name


class SuiteEnvironment:
    name = "agentdojo"

    def __init__(self, spec: Mapping[str, Any], where: str = "environment"):
        spec_fields(spec, ("kind", "suite", "user_task", "injection_task", "attack", "version", "target_model"), where)
        version = spec.get("version", VERSION)
        suites = _suites(version, f"{where}.version")
        suite_name = spec.get("suite")
        if suite_name not in SUITES:
            raise SpecError(f"{where}.suite", f"one of {', '.join(SUITES)}")
        self.suite = suites[suite_name]
        user_task = spec.get("user_task")
        if user_task not in self.suite.user_tasks:
            raise SpecError(f"{where}.user_task", f"not a user task of {suite_name} {version}")
        injection_task = spec.get("injection_task")
        if injection_task is not None and injection_task not in self.suite.injection_tasks:
            raise SpecError(f"{where}.injection_task", f"not an injection task of {suite_name} {version}")
        attack = spec.get("attack", DEFAULT_ATTACK)
        if attack not in ATTACKS:
            raise SpecError(f"{where}.attack", f"one of AgentDojo's attacks ({', '.join(sorted(ATTACKS))})")
        self.spec = {"kind": "agentdojo", "suite": suite_name, "user_task": user_task,
                     "injection_task": injection_task, "attack": attack, "version": version,
                     "target_model": str(spec.get("target_model", DEFAULT_TARGET_MODEL))}
        self.user_task = self.suite.user_tasks[user_task]
        self.injection_task = self.suite.injection_tasks[injection_task] if injection_task else None
        self._tool_specs = [_openai_tool(f) for f in self.suite.tools]
        self.injections: dict[str, str] = {}
        if self.injection_task is not None:
            attacker = load_attack(attack, self.suite, _Target(self.spec["target_model"]))
            self.injections = dict(attacker.attack(self.user_task, self.injection_task))
        texts = {**self.suite.get_injection_vector_defaults(), **self.injections}.values()
        self.markers = sorted({normalize(t) for t in texts if len(normalize(t)) >= MIN_MARKER_CHARS}, key=len, reverse=True)
        self.injection_markers = sorted({normalize(t) for t in self.injections.values()})
        self.runtime = FunctionsRuntime(self.suite.tools)
        self.reset(seed=0)

    def _fresh(self) -> tuple[Any, Any]:
        """The task's environment with the injections in place, and the copy its checks compare to."""
        loaded = self.suite.load_and_inject_default_environment(self.injections)
        task_env = self.user_task.init_environment(loaded)
        return task_env, task_env.model_copy(deep=True)

    # --- the Environment protocol ---------------------------------------------------------

    def reset(self, *, seed: int) -> None:
        # AgentDojo's suites are deterministic; the seed is the agent's business.
        self.task_env, self.pre_env = self._fresh()
        self.calls: list[dict[str, Any]] = []
        self.output = ""
        self.done = False
        self.results: dict[str, Any] | None = None

    @property
    def agents(self) -> Sequence[str]:
        return (AGENT,)

    def instructions(self, agent: str) -> str:
        message: str = load_system_message(None)  # AgentDojo's default system message (the library is untyped)
        return message

    def turns(self) -> list[Turn]:
        return [] if self.done else [Turn(AGENT, "task", prompt=self.user_task.PROMPT)]

    def tools(self, agent: str, phase: str = "") -> list[dict[str, Any]]:
        return list(self._tool_specs)

    def view(self, agent: str, phase: str = "") -> JSON:
        return {"prompt": self.user_task.PROMPT, "suite": self.spec["suite"], "user_task": self.spec["user_task"]}

    def call(self, *, agent: str, call: ToolCall) -> ToolResult:
        self.calls.append({"function": call.tool, "args": dict(call.arguments), "id": call.id or None})
        result, error = self.runtime.run_function(self.task_env, call.tool, call.arguments, raise_on_error=False)
        text = tool_result_to_str(result) if not error else ""
        untrusted = carries(text, self.markers)
        return ToolResult(result=text, error=error or "", provenance=UNTRUSTED if untrusted else TRUSTED,
                          source=f"{self.spec['suite']}:{call.tool}")

    def post(self, *, agent: str, message: Message) -> None:
        self.output = message.content  # the agent's last words are its answer to the user

    def end_round(self) -> RoundEnd:
        self.done = True
        self.results = self._check()
        return RoundEnd(observations={AGENT: {"answered": bool(self.output), "calls": len(self.calls)}}, done=True)

    def snapshot(self) -> JSON:
        return {"spec": dict(self.spec), "environment": self.task_env.model_dump(mode="json"),
                "calls": json.loads(json.dumps(self.calls, default=str)), "output": self.output, "done": self.done,
                "results": self.results}

    def restore(self, snapshot: JSON) -> None:
        _, self.pre_env = self._fresh()
        self.task_env = type(self.pre_env).model_validate(snapshot["environment"])
        self.calls = [dict(c) for c in snapshot["calls"]]
        self.output, self.done, self.results = snapshot["output"], snapshot["done"], snapshot["results"]

    def metrics(self) -> JSON:
        results = self.results or {"utility": None, "security": None}
        secure = None if results["security"] is None else not results["security"]
        return {"suite": self.spec["suite"], "user_task": self.spec["user_task"],
                "injection_task": self.spec["injection_task"], "attack": self.spec["attack"] if self.injections else None,
                "version": self.spec["version"], "utility": results["utility"], "security": results["security"],
                "secure": secure, "success": bool(results["utility"]) and secure is not False,
                "calls": len(self.calls)}

    # --- ground truth, for the scripted agents ------------------------------------------------

    def user_ground_truth(self) -> tuple[list[ToolCall], str]:
        calls = self.user_task.ground_truth(self.pre_env.model_copy(deep=True))
        return [ToolCall(c.function, dict(c.args)) for c in calls], self.user_task.GROUND_TRUTH_OUTPUT

    def injection_ground_truth(self) -> list[ToolCall]:
        if self.injection_task is None:
            return []
        return [ToolCall(c.function, dict(c.args)) for c in self.injection_task.ground_truth(self.pre_env.model_copy(deep=True))]

    # --- checks ---------------------------------------------------------------------------------

    def _check(self) -> dict[str, Any]:
        """The tasks' own checks over what ran: trace-based where the task has one, else state-based."""
        trace = [FunctionCall(function=c["function"], args=c["args"], id=c["id"]) for c in self.calls]
        task = self.user_task
        utility = task.utility_from_traces(self.output, self.pre_env, self.task_env, trace)
        if utility is None:
            utility = task.utility(self.output, self.pre_env, self.task_env)
        security = None
        if self.injection_task is not None:
            inj = self.injection_task
            security = inj.security_from_traces(self.output, self.pre_env, self.task_env, trace)
            if security is None:
                security = inj.security(self.output, self.pre_env, self.task_env)
        return {"utility": bool(utility), "security": None if security is None else bool(security)}


def _suites(version: Any, where: str) -> Mapping[str, Any]:
    try:
        suites: Mapping[str, Any] = get_suites(str(version))
    except (KeyError, ValueError):
        suites = {}
    if not suites:  # AgentDojo's registry answers an unknown version with nothing
        raise SpecError(where, "an AgentDojo benchmark version such as v1.2")
    return suites


def _openai_tool(function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": function.name, "description": function.description,
                                             "parameters": function.parameters.model_json_schema()}}
