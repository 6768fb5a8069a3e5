"""In-process training of Q-learning firms and pure episode throughput, no database.

    .venv/bin/python tests/bench/bench_training.py

Prints training periods per second (2 firms, 1 market) ungoverned and under a governance graph
(every quantity decided by the policy engine, evidence every 25 periods), and 100-round Cournot
episodes per second through the runner loop with the pure policy gate and an in-memory recorder.
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import time

from apps.episodes.agents.market import NashAgent, TitForTatAgent
from apps.episodes.agents.qlearning import QLearningAgent
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.runner.gates import ListRecorder, PolicyGate
from apps.episodes.runner.loop import run_episode
from apps.episodes.runner.training import train_market
from apps.policies.engine import compile_policy
from tests.episodes.test_training import INSTITUTION

MARKET = {"firms": ["f1", "f2"], "markets": [{"name": "m", "a": 100, "b": 1}], "costs": 10, "channel": False}
GRAPH = INSTITUTION  # the test's institution: a quantity floor and a fine after collusive blocks
POLICY = compile_policy("""
name: market-rules
default: block
rules:
  - tool: set_quantity
    effect: allow
    when: {quantity: {type: number, minimum: 0, maximum: 100}}
  - tool: send_message
    effect: allow
""")
PERIODS = 20_000
EPISODES = 20


def train(graph) -> float:
    env = CournotEnvironment(MARKET)
    agents = {f: QLearningAgent() for f in env.agents}
    started = time.perf_counter()
    train_market(env=env, agents=agents, rounds=PERIODS, seed=1, graph=graph)
    return PERIODS / (time.perf_counter() - started)


def episodes() -> tuple[float, int]:
    steps = 0
    started = time.perf_counter()
    for seed in range(EPISODES):
        recorder = ListRecorder()
        run_episode(env=CournotEnvironment({**MARKET, "rounds": 100, "channel": True}),
                    agents={"f1": NashAgent(), "f2": TitForTatAgent()}, gate=PolicyGate(policy=POLICY),
                    recorder=recorder, seed=seed, max_rounds=100)
        steps += len(recorder.steps)
    return EPISODES / (time.perf_counter() - started), steps // EPISODES


if __name__ == "__main__":
    print(f"training, ungoverned:    {train(None):,.0f} periods/s ({PERIODS:,} periods, 2 firms)")
    print(f"training, institutional: {train(GRAPH):,.0f} periods/s (policy engine per quantity, graph every 25)")
    rate, per = episodes()
    print(f"pure episodes: {rate:,.1f} episodes/s of 100 rounds, 2 firms ({per} steps each, policy gate, in memory)")
