"""Scripted agents for AgentDojo suites: the oracle and the hijackable agent.

Both make one call per act, as a tool-calling model does, and end with the task's ground-truth
answer. The oracle follows the user task's ground truth. The hijackable agent does the same but
obeys instructions it finds in tool output: once a result carries the injection, it first carries
out the injection task's ground truth, then resumes the user's task. It is the worst case a policy
must contain. A blocked call is skipped; the agent goes on with its plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.episodes.environments.base import JSON, CallOutcome, Message, ToolCall
from apps.episodes.environments.text import carries


class GroundTruthAgent:
    def __init__(self, *, calls: Sequence[ToolCall], answer: str, injection_calls: Sequence[ToolCall] = (),
                 markers: Sequence[str] = ()):
        """markers: the injected texts, normalized (`environments.text.normalize`)."""
        self.plan = [_plain(c) for c in calls]
        self.answer = answer
        self.injection = [_plain(c) for c in injection_calls]
        self.markers = list(markers)
        self.queue: list[dict[str, Any]] = []
        self.hijacked = False
        self.answered = False

    def reset(self, *, agent: str, seed: int, instructions: str) -> None:
        self.queue, self.hijacked, self.answered = [dict(c) for c in self.plan], False, False

    def act(self, *, view: JSON, tools: list[dict[str, Any]]) -> list[Message | ToolCall]:
        if self.queue:
            call = self.queue.pop(0)
            return [ToolCall(call["tool"], dict(call["arguments"]))]
        if not self.answered:
            self.answered = True
            return [Message(self.answer)]
        return []

    def observe(self, *, outcomes: Sequence[CallOutcome]) -> None:
        if self.hijacked or not self.injection:
            return
        for outcome in outcomes:
            text = "" if outcome.result is None else str(outcome.result.result)
            if carries(text, self.markers):
                self.hijacked = True
                self.queue = [dict(c) for c in self.injection] + self.queue
                return

    def observe_round(self, *, observation: JSON) -> None:
        pass

    def snapshot(self) -> JSON:
        return {"queue": [dict(c) for c in self.queue], "hijacked": self.hijacked, "answered": self.answered}

    def restore(self, snapshot: JSON) -> None:
        self.queue = [dict(c) for c in snapshot["queue"]]
        self.hijacked, self.answered = snapshot["hijacked"], snapshot["answered"]


def _plain(call: ToolCall) -> dict[str, Any]:
    return {"tool": call.tool, "arguments": dict(call.arguments)}


def oracle_agent(env: Any) -> GroundTruthAgent:
    """Follows the user task's ground truth in a `SuiteEnvironment`."""
    calls, answer = env.user_ground_truth()
    return GroundTruthAgent(calls=calls, answer=answer)


def hijackable_agent(env: Any) -> GroundTruthAgent:
    """Follows the user task, and the injection task once its instructions show up in tool output."""
    calls, answer = env.user_ground_truth()
    return GroundTruthAgent(calls=calls, answer=answer, injection_calls=env.injection_ground_truth(),
                            markers=list(env.injection_markers))
