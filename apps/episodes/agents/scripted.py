"""An agent that plays a fixed script: for tests of the runner and of whatever is built on it.

`plan[r]` is what the agent does in round r (cycled): its first act of each turn returns those items,
later acts of the same turn return nothing, which ends the turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.episodes.environments.base import JSON, CallOutcome, Message, ToolCall


class ScriptedAgent:
    def __init__(self, plan: Sequence[Sequence[Message | ToolCall]]):
        self.plan = [list(items) for items in plan]
        self.round = 0
        self.acted = False
        self.seen: list[JSON] = []  # verdicts and results it observed, for assertions

    def reset(self, *, agent: str, seed: int, instructions: str) -> None:
        self.round, self.acted, self.seen = 0, False, []

    def act(self, *, view: JSON, tools: list[dict[str, Any]]) -> list[Message | ToolCall]:
        if self.acted or not self.plan:
            return []
        self.acted = True
        return [ToolCall(i.tool, dict(i.arguments), i.id) if isinstance(i, ToolCall) else i
                for i in self.plan[self.round % len(self.plan)]]

    def observe(self, *, outcomes: Sequence[CallOutcome]) -> None:
        self.seen.extend({"tool": o.call.tool, "verdict": o.verdict.verdict,
                          "result": None if o.result is None else o.result.result} for o in outcomes)

    def observe_round(self, *, observation: JSON) -> None:
        self.round += 1
        self.acted = False

    def snapshot(self) -> JSON:
        return {"round": self.round, "acted": self.acted, "seen": list(self.seen)}

    def restore(self, snapshot: JSON) -> None:
        self.round, self.acted, self.seen = snapshot["round"], snapshot["acted"], list(snapshot["seen"])
