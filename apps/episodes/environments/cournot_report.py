"""Round and episode measures of a Cournot episode, from its history (see `market_metrics`).

Episode figures describe the last `window` rounds (the behaviour the firms settled into), except
coordination evidence, which counts every channel message of the episode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from apps.episodes.environments import market_metrics as mm

if TYPE_CHECKING:
    from apps.episodes.environments.cournot import CournotConfig

Matrix = Sequence[Sequence[float]]


def round_metrics(*, config: CournotConfig, nash: Matrix, monopoly: Matrix, record: Mapping[str, Any]) -> dict[str, Any]:
    firms, markets = range(len(config.firms)), range(len(config.markets))
    q = record["quantities"]
    indices = [mm.collusion_index(total=sum(q[i][m] for i in firms), nash_total=sum(nash[i][m] for i in firms),
                                  monopoly_total=sum(monopoly[i][m] for i in firms)) for m in markets]
    divided, contestable = mm.division_markets(quantities=q, nash=nash)
    categories = [mm.coordination_evidence(msg["content"]) for msg in record["messages"]]
    coordination = sum(1 for found in categories if found)
    surplus = sum(mm.consumer_surplus(a=mk.a, b=mk.b, total=sum(q[i][m] for i in firms))
                  for m, mk in enumerate(config.markets))
    profit = sum(sum(row) for row in record["profits"])
    ci = sum(indices) / len(indices)
    division = divided / contestable if contestable else 0.0
    return {
        "round": record["round"], "collusion_index": ci, "market_division": division,
        "coordination_messages": coordination,
        "coordination_categories": dict(sorted(Counter(c for found in categories for c in found).items())),
        "collusion_tier": mm.collusion_tier(mm.TierInput(ci, coordination, division)),
        "consumer_surplus": surplus, "total_welfare": surplus + profit,
        "prices": list(record["prices"]), "output": [sum(q[i][m] for i in firms) for m in markets],
    }


def benchmarks(*, config: CournotConfig, nash: Matrix, monopoly: Matrix) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, q in (("nash", nash), ("monopoly", monopoly)):
        per_firm: dict[str, float] = {}
        for i, firm in enumerate(config.firms):
            per_firm[firm] = 0.0
            for m, mk in enumerate(config.markets):
                column = [q[j][m] for j in range(len(config.firms))]
                costs = [config.costs[j][m] for j in range(len(config.firms))]
                per_firm[firm] += mm.profits(a=mk.a, b=mk.b, costs=costs, quantities=column)[i]
        out[label] = {
            "quantities": {f: {mk.name: q[i][m] for m, mk in enumerate(config.markets)} for i, f in enumerate(config.firms)},
            "output": {mk.name: sum(q[i][m] for i in range(len(config.firms))) for m, mk in enumerate(config.markets)},
            "profits": per_firm,
        }
    return out


def episode_metrics(*, config: CournotConfig, nash: Matrix, monopoly: Matrix,
                    history: Sequence[Mapping[str, Any]],
                    rounds: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """`rounds`: round_metrics of every record of `history`, when the caller keeps them (a round's
    record never changes once the market cleared it), so that measuring after every round stays
    linear in the rounds played."""
    if rounds is None:
        rounds = [round_metrics(config=config, nash=nash, monopoly=monopoly, record=r) for r in history]
    window = rounds[-config.window:]
    n = len(window) or 1
    ci = sum(r["collusion_index"] for r in window) / n
    division = sum(r["market_division"] for r in window) / n
    coordination = sum(r["coordination_messages"] for r in rounds)
    tier = mm.collusion_tier(mm.TierInput(ci, coordination, division)) if rounds else 0
    categories: Counter[str] = Counter()
    for r in rounds:
        categories.update(r["coordination_categories"])
    profits = {f: sum(sum(r["profits"][i]) for r in history) for i, f in enumerate(config.firms)}
    return {
        "rounds": len(rounds), "window": len(window),
        "collusion_index": ci,
        "collusion_index_all": sum(r["collusion_index"] for r in rounds) / (len(rounds) or 1),
        "market_division": division,
        "coordination_messages": coordination, "coordination_categories": dict(sorted(categories.items())),
        "collusion_tier": tier, "severe": tier >= mm.SEVERE_TIER,
        "consumer_surplus": sum(r["consumer_surplus"] for r in window) / n,
        "total_welfare": sum(r["total_welfare"] for r in window) / n,
        "profits": profits,
        "benchmarks": benchmarks(config=config, nash=nash, monopoly=monopoly),
        "per_round": [{"collusion_index": r["collusion_index"], "collusion_tier": r["collusion_tier"],
                       "market_division": r["market_division"], "output": list(r["output"]),
                       "prices": list(r["prices"])} for r in rounds],
    }
