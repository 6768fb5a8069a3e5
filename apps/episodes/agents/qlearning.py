"""A tabular Q-learning firm for the Cournot market, as in the algorithmic-collusion literature.

Each market has its own table. Actions: `grid` quantities evenly spaced from (1 - xi) times the
lower of the firm's Nash quantity and its equal monopoly share up to (1 + xi) times its Nash
quantity (Calvano et al. 2020 use xi = 0.1; the default grid of 5 and beta = 2.5e-4 suit the 10^4-10^5
periods trained here, where Calvano's 15 points and beta = 4e-6 need about 10^6). State: the firm's own and its rivals' (mean) grid
positions in the last period (memory one). Exploration is epsilon-greedy with
epsilon_t = exp(-beta t); the update is Q(s,a) += alpha (r + gamma max Q(s') - Q(s,a)), with
Q initialised to each action's discounted profit against uniformly random rivals. The reward is the
period's profit minus any fine the institution charges, so sanctions change what it learns.

`choose` / `learn` are the training interface (`runner.training`), `act` / `observe_round` the
episode one; after training, `freeze()` stops learning and exploring for the traced evaluation.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from apps.episodes.environments import market_metrics as mm
from apps.episodes.environments.base import JSON, CallOutcome, Message, ToolCall


class QLearningAgent:
    def __init__(self, *, grid: int = 5, xi: float = 0.1, alpha: float = 0.15, gamma: float = 0.95,
                 beta: float = 2.5e-4, stable_after: int = 1000):
        self.k, self.xi, self.alpha, self.gamma, self.beta = grid, xi, alpha, gamma, beta
        self.stable_after = stable_after
        self.learning = True
        self.rng = random.Random(0)
        self.t = 0
        self.markets: dict[str, dict[str, Any]] = {}  # name -> {grid, q, state, action, ...}
        self.stable = 0  # periods since a greedy action last changed
        self.turn: list[Any] = []

    # --- setup ------------------------------------------------------------------------------

    def reset(self, *, agent: str, seed: int, instructions: str) -> None:
        """Re-seeds the agent for an episode. What it learned stays: a trained learner is evaluated
        with its tables; `forget()` starts over."""
        self.rng = random.Random(seed)
        self.turn = []

    def forget(self) -> None:
        self.t, self.stable, self.markets, self.learning = 0, 0, {}, True

    def prepare(self, view: Mapping[str, Any]) -> None:
        """Builds the grid and initial table per market from a market view (once)."""
        if self.markets:
            return
        firms = list(view["firms"])
        me = firms.index(view["you"])
        for market in view["markets"]:
            costs = [market["costs"][f] for f in firms]
            caps = [market["capacities"][f] for f in firms]
            a, b, n = market["a"], market["b"], len(firms)
            nash = mm.cournot_nash(a=a, b=b, costs=costs, capacities=caps)[me]
            share = sum(mm.joint_monopoly(a=a, b=b, costs=costs, capacities=caps)) / n
            low, high = (1 - self.xi) * min(nash, share), (1 + self.xi) * nash
            grid = [low + (high - low) * i / (self.k - 1) for i in range(self.k)]
            own_cost = costs[me]
            q0 = []
            for own in grid:
                mean = sum((max(0.0, a - b * (own + (n - 1) * r)) - own_cost) * own for r in grid) / self.k
                q0.append(mean / (1 - self.gamma))
            self.markets[market["name"]] = {
                "grid": grid, "a": a, "b": b, "rivals": n - 1,
                "q": [list(q0) for _ in range(self.k * self.k)],
                "state": self.rng.randrange(self.k * self.k), "action": 0,
            }

    def freeze(self) -> None:
        self.learning = False

    # --- training interface -------------------------------------------------------------------

    def choose(self) -> dict[str, float]:
        """This period's quantity per market (epsilon-greedy while learning)."""
        epsilon = math.exp(-self.beta * self.t) if self.learning else 0.0
        out = {}
        for name, m in self.markets.items():
            if self.rng.random() < epsilon:
                action = self.rng.randrange(self.k)
            else:
                row = m["q"][m["state"]]
                action = row.index(max(row))
            m["action"] = action
            out[name] = m["grid"][action]
        return out

    def learn(self, *, rewards: Mapping[str, float], rivals: Mapping[str, float | None]) -> None:
        """Updates each market's table with the period's reward and the rivals' total output."""
        changed = False
        for name, m in self.markets.items():
            rival_total = rivals.get(name)
            grid = m["grid"]
            if rival_total is None:
                r_idx = self.k - 1
            else:
                mean = rival_total / max(1, m["rivals"])
                r_idx = min(range(self.k), key=lambda i: abs(grid[i] - mean))
            nxt = m["action"] * self.k + r_idx
            if self.learning:
                row = m["q"][m["state"]]
                before = row.index(max(row))
                target = rewards[name] + self.gamma * max(m["q"][nxt])
                row[m["action"]] += self.alpha * (target - row[m["action"]])
                changed = changed or row.index(max(row)) != before
            m["state"] = nxt
        self.t += 1
        self.stable = 0 if changed else self.stable + 1

    def convergence(self) -> dict[str, Any]:
        return {"converged": self.stable >= self.stable_after, "stable_rounds": self.stable, "rounds": self.t,
                "epsilon": math.exp(-self.beta * self.t)}

    def greedy(self) -> dict[str, float]:
        """The quantity it would play now in each market without exploring."""
        out = {}
        for name, m in self.markets.items():
            row = m["q"][m["state"]]
            out[name] = m["grid"][row.index(max(row))]
        return out

    # --- the Agent protocol -------------------------------------------------------------------

    def act(self, *, view: JSON, tools: list[dict[str, Any]]) -> list[Message | ToolCall]:
        key = [view["round"], view["phase"]]
        if key == self.turn or "set_quantity" not in {t["function"]["name"] for t in tools}:
            return []
        self.turn = key
        self.prepare(view)
        return [ToolCall("set_quantity", {"market": name, "quantity": round(q, 6)}) for name, q in self.choose().items()]

    def observe(self, *, outcomes: Sequence[CallOutcome]) -> None:
        pass

    def observe_round(self, *, observation: JSON) -> None:
        rewards, rivals = {}, {}
        for name, entry in observation["markets"].items():
            m = self.markets.get(name)
            if m is None:
                continue
            rewards[name] = entry["profit"] - observation.get("fine", 0.0) / len(self.markets)
            if "rivals" in entry:
                rivals[name] = sum(entry["rivals"].values())
            elif entry["price"] > 0:
                rivals[name] = max(0.0, (m["a"] - entry["price"]) / m["b"] - entry["quantity"])
            else:
                rivals[name] = None
        if rewards:
            self.learn(rewards=rewards, rivals=rivals)

    def snapshot(self) -> JSON:
        version, state, gauss = self.rng.getstate()
        return {"rng": [version, list(state), gauss], "t": self.t, "stable": self.stable, "learning": self.learning,
                "markets": {n: {**m, "q": [list(r) for r in m["q"]]} for n, m in self.markets.items()},
                "turn": list(self.turn)}

    def restore(self, snapshot: JSON) -> None:
        version, state, gauss = snapshot["rng"]
        self.rng.setstate((version, tuple(state), gauss))
        self.t, self.stable, self.learning = snapshot["t"], snapshot["stable"], snapshot["learning"]
        self.markets = {n: {**m, "q": [list(r) for r in m["q"]]} for n, m in snapshot["markets"].items()}
        self.turn = list(snapshot["turn"])
