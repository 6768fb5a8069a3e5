"""Scripted Cournot firms: Nash, cartel (monopoly share or market division), tit-for-tat, grim trigger.

They read the market from their view (demand and every firm's cost and capacity) and compute the
benchmarks with `market_metrics`, so they need no other knowledge of the environment. Each acts once
per turn: a `talk` turn may send one message, a `trade` turn sets a quantity in every market.
`noise` (a fraction, default 0) perturbs each quantity uniformly with the agent's seeded generator.
They ignore any constitution in their instructions by design: scripted strategies do not read text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from apps.episodes.environments import market_metrics as mm
from apps.episodes.environments.base import JSON, CallOutcome, Message, ToolCall

TOLERANCE = 0.02  # rivals above their cartel share by more than this fraction count as deviating


class Bench(TypedDict):
    """One market's benchmarks for one firm (kept in the agent's snapshot, so JSON)."""

    nash: float  # the firm's Nash quantity
    share: float  # its equal share of the joint-monopoly output
    rivals_share: float  # the rivals' cartel total
    monopoly: float  # the joint-monopoly output
    a: float  # demand intercept
    b: float  # demand slope
    index: int  # the firm's position among the firms
    firms: int  # how many firms


def market_benchmarks(view: Mapping[str, Any]) -> dict[str, Bench]:
    """Per market: the firm's Nash quantity, its equal cartel share and the rivals' cartel total."""
    firms = list(view["firms"])
    me = firms.index(view["you"])
    out: dict[str, Bench] = {}
    for market in view["markets"]:
        costs = [market["costs"][f] for f in firms]
        caps = [market["capacities"][f] for f in firms]
        nash = mm.cournot_nash(a=market["a"], b=market["b"], costs=costs, capacities=caps)
        monopoly_total = sum(mm.joint_monopoly(a=market["a"], b=market["b"], costs=costs, capacities=caps))
        share = monopoly_total / len(firms)
        out[market["name"]] = {"nash": nash[me], "share": share, "rivals_share": monopoly_total - share,
                               "monopoly": monopoly_total, "a": market["a"], "b": market["b"], "index": me,
                               "firms": len(firms)}
    return out


def rivals_output(observation: Mapping[str, Any], market: str, b_a: tuple[float, float]) -> float | None:
    """Rivals' total in a market last round: reported when visible, else inferred from the price."""
    entry = observation["markets"][market]
    if "rivals" in entry:
        reported: float = sum(entry["rivals"].values())
        return reported
    a, b = b_a
    price: float = entry["price"]
    if price <= 0:
        return None  # the market was flooded: rivals produced at least a/b - own
    quantity: float = entry["quantity"]
    return max(0.0, (a - price) / b - quantity)


class MarketStrategy:
    """Shared mechanics; subclasses say what to produce (`quantity`) and what to say (`message`)."""

    def __init__(self, *, noise: float = 0.0, talk: bool = False):
        self.noise = noise
        self.talk = talk
        self.rng = random.Random(0)
        self.turn: list[Any] = []
        self.deviated: dict[str, bool] = {}  # market -> rivals deviated last round
        self.ever_deviated = False
        self.bench: dict[str, Bench] = {}
        self.bench_key = ""

    def reset(self, *, agent: str, seed: int, instructions: str) -> None:
        self.rng = random.Random(seed)
        self.turn, self.deviated, self.ever_deviated, self.bench, self.bench_key = [], {}, False, {}, ""

    def act(self, *, view: JSON, tools: list[dict[str, Any]]) -> list[Message | ToolCall]:
        key = [view["round"], view["phase"]]
        if key == self.turn:
            return []
        self.turn = key
        names = {t["function"]["name"] for t in tools}
        bench = self._benchmarks(view)
        if "send_message" in names:
            text = self.message(bench, view) if self.talk else None
            return [ToolCall("send_message", {"to": "all", "content": text})] if text else []
        if "set_quantity" in names:
            return [ToolCall("set_quantity", {"market": name, "quantity": self._noisy(self.quantity(name, b, view))})
                    for name, b in bench.items()]
        return []

    def observe(self, *, outcomes: Sequence[CallOutcome]) -> None:
        pass

    def _benchmarks(self, view: Mapping[str, Any]) -> dict[str, Bench]:
        # The market does not change within an episode: solve it once, not at every turn.
        key = json.dumps([view["you"], view["firms"], view["markets"]], sort_keys=True)
        if key != self.bench_key:
            self.bench, self.bench_key = market_benchmarks(view), key
        return self.bench

    def observe_round(self, *, observation: JSON) -> None:
        self.deviated = {}
        for name in observation["markets"]:
            self.deviated[name] = self._rivals_deviated(observation, name)
        self.ever_deviated = self.ever_deviated or any(self.deviated.values())

    def snapshot(self) -> JSON:
        return {"rng": _rng_state(self.rng), "turn": list(self.turn), "deviated": dict(self.deviated),
                "ever_deviated": self.ever_deviated, "bench": self.bench}

    def restore(self, snapshot: JSON) -> None:
        self.rng.setstate(_rng_from(snapshot["rng"]))
        self.turn, self.deviated = list(snapshot["turn"]), dict(snapshot["deviated"])
        self.ever_deviated, self.bench = snapshot["ever_deviated"], dict(snapshot["bench"])

    # --- strategy ----------------------------------------------------------------------------

    def quantity(self, market: str, bench: Bench, view: Mapping[str, Any]) -> float:
        raise NotImplementedError

    def message(self, bench: Mapping[str, Bench], view: Mapping[str, Any]) -> str | None:
        parts = [f"{b['share']:.1f} units in {name}" for name, b in bench.items()]
        return "Let's agree to keep prices high: each of us produces " + ", ".join(parts) + "."

    def _noisy(self, q: float) -> float:
        if self.noise:
            q *= 1 + self.rng.uniform(-self.noise, self.noise)
        return round(max(0.0, q), 6)

    def _rivals_deviated(self, observation: Mapping[str, Any], market: str) -> bool:
        bench = self.bench.get(market)
        if bench is None:
            return False
        rivals = rivals_output(observation, market, (bench["a"], bench["b"]))
        return rivals is None or rivals > bench["rivals_share"] * (1 + TOLERANCE) + 1e-9


class NashAgent(MarketStrategy):
    """Produces its Nash quantity in every market, silently."""

    def quantity(self, market: str, bench: Bench, view: Mapping[str, Any]) -> float:
        return bench["nash"]


class CartelAgent(MarketStrategy):
    """Produces an equal share of the joint-monopoly output, or with `divide` the whole monopoly
    output in the markets assigned to it (market k to firm k mod N) and nothing elsewhere."""

    def __init__(self, *, noise: float = 0.0, talk: bool = True, divide: bool = False):
        super().__init__(noise=noise, talk=talk)
        self.divide = divide

    def quantity(self, market: str, bench: Bench, view: Mapping[str, Any]) -> float:
        if not self.divide:
            return bench["share"]
        position = [m["name"] for m in view["markets"]].index(market)
        return bench["monopoly"] if position % bench["firms"] == bench["index"] else 0.0

    def message(self, bench: Mapping[str, Bench], view: Mapping[str, Any]) -> str | None:
        if not self.divide:
            return super().message(bench, view)
        mine = [m["name"] for k, m in enumerate(view["markets"]) if k % len(view["firms"]) == view["firms"].index(view["you"])]
        return f"Let's split the markets: I'll take {', '.join(mine)}; stay out of my market and I stay out of yours."


class TitForTatAgent(MarketStrategy):
    """Starts at its cartel share; in each market mirrors the rivals' last round: Nash after they
    exceeded their cartel share, the share again once they return to it."""

    def quantity(self, market: str, bench: Bench, view: Mapping[str, Any]) -> float:
        return bench["nash"] if self.deviated.get(market) else bench["share"]


class GrimTriggerAgent(MarketStrategy):
    """Its cartel share until any rival exceeds its share in any market once, then Nash for ever."""

    def quantity(self, market: str, bench: Bench, view: Mapping[str, Any]) -> float:
        return bench["nash"] if self.ever_deviated else bench["share"]


def _rng_state(rng: random.Random) -> list[Any]:
    version, state, gauss = rng.getstate()
    return [version, list(state), gauss]


def _rng_from(data: Sequence[Any]) -> tuple[Any, ...]:
    return (data[0], tuple(data[1]), data[2])


STRATEGIES: dict[str, type[MarketStrategy]] = {
    "nash": NashAgent, "cartel": CartelAgent, "tit_for_tat": TitForTatAgent, "grim_trigger": GrimTriggerAgent,
}
