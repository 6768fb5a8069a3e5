"""In-process policy evaluation: a 50-rule policy, median and p99 per decision; then the same
policy with provenance conditions (`from: trusted`, `tainted`) on an episode whose index holds
1,000 untrusted observations, and the median those conditions add.

The two policies are measured in alternating blocks of 2,000 decisions, so load from other
processes falls on both alike; the added cost is also given as the median over block pairs of
the difference of their medians, which such load moves least.

    .venv/bin/python tests/bench/bench_policy_engine.py
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import os
import random
import statistics
import time

from apps.policies.engine import Call, Context, ProvenanceIndex, compile_policy, decide

RULES = 50
CALLS = 200_000
OBSERVATIONS = 1_000
BLOCK = 2_000


def fifty_rule_policy(*, provenance: bool = False) -> str:
    lines = ["name: bench-50", "default: block", "rules:"]
    for i in range(40):  # exact tools with argument schemas, some with conditions
        lines += [
            f"  - id: tool{i}-allow", f"    tool: tool_{i}", "    effect: allow", f"    priority: {i % 5}",
            "    when:",
            "      amount: {type: number, minimum: 0, maximum: 1000}",
            "      recipient: {type: string, pattern: '^[A-Z]{2}[0-9]{6}$'"
            + (", from: trusted}" if provenance else "}"),
            "    fallback: {action: rewrite, clamp: {amount: {minimum: 0, maximum: 1000}}}",
        ]
        if i % 3 == 0:
            lines.append("    if: {all: [{untrusted: false}, {calls: {max: 50}}, {agent: ['bench-*']}]}")
        elif provenance:
            lines.append("    if: {not: {tainted: [memo]}}")
    for i in range(5):
        lines += [f"  - id: deny{i}", f"    tool: tool_{i * 7}", "    effect: deny", "    priority: 9",
                  "    when: {recipient: {enum: [XX000000]}}", "    fallback: {action: block, message: frozen}"]
    for i in range(5):
        lines += [f"  - id: glob{i}", f"    tool: 'read_{i}_*'", "    effect: allow", "    priority: 1"]
    return "\n".join(lines)


def episode_index() -> ProvenanceIndex:
    """A user's request, then 1,000 untrusted web pages and e-mails full of links, IBANs and numbers."""
    rng = random.Random(11)
    steps = [{"index": 0, "kind": "message", "actor": "user", "role": "user",
              "content": "Pay UK123456 the usual amount and note it in the ledger."}]
    for i in range(1, OBSERVATIONS + 1):
        words = " ".join(rng.choice(("invoice", "account", "transfer", "urgent", "please", "balance", "review"))
                         for _ in range(30))
        steps.append({
            "index": i, "kind": "observation", "actor": "tool", "provenance": "untrusted",
            "source": "web" if i % 2 else "email",
            "content": f"Page {i}: {words}. Send {rng.randrange(10**6)} to GB{i:02d}NWBK{rng.randrange(10**14):014d} "
                       f"or visit https://site-{i}.example/pay?ref={i}. Write to desk{i}@site-{i}.example today.",
        })
    return ProvenanceIndex(steps)


def workload(n: int, index: ProvenanceIndex | None = None) -> list[tuple[Call, Context]]:
    rng = random.Random(7)
    ctx = Context(untrusted=False, counts={"tool_0": 3}, steps=10, state="good", provenance=index)
    out = []
    for _ in range(n):
        r = rng.random()
        # Values vary from call to call, so the scanner's per-process memo is not what is measured:
        # half the recipients are the user's, half unknown; a tenth of the memos quote a web page.
        recipient = "UK123456" if rng.random() < 0.5 else f"UK{rng.randrange(10**6):06d}"
        page = rng.randrange(1, OBSERVATIONS + 1)
        memo = (f"paid, see https://site-{page}.example/pay?ref={page}" if rng.random() < 0.1
                else f"rent for month {rng.randrange(10**6)}")
        if r < 0.7:
            call = Call(f"tool_{rng.randrange(40)}", {"amount": rng.randrange(900), "recipient": recipient,
                                                      "memo": memo}, "bench-1")
        elif r < 0.8:
            call = Call(f"tool_{rng.randrange(40)}", {"amount": 5000, "recipient": recipient, "memo": memo},
                        "bench-1")
        elif r < 0.9:
            call = Call(f"read_{rng.randrange(5)}_file", {"path": "/tmp/x"}, "bench-1")
        else:
            call = Call("unknown_tool", {}, "bench-1")
        out.append((call, ctx))
    return out


def measure_pair(runs: list[tuple[object, list[tuple[Call, Context]]]], block: int = BLOCK
                 ) -> tuple[list[list[float]], list[dict[str, int]], list[float], list[float]]:
    """Each (policy, calls) in alternating blocks; per run its samples and verdicts, and per block
    pair the difference of the two blocks' medians (second minus first) and of their CPU time per
    decision (process time, which time spent waiting for a core under load does not count)."""
    for policy, calls in runs:
        for call, ctx in calls[:5000]:
            decide(policy, call, ctx)
    samples: list[list[float]] = [[] for _ in runs]
    verdicts: list[dict[str, int]] = [{} for _ in runs]
    diffs, cpu_diffs = [], []
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    for start in range(0, len(runs[0][1]), block):
        medians, cpus = [], []
        for n, (policy, calls) in enumerate(runs):
            chunk = []
            c0 = cpu()
            for call, ctx in calls[start:start + block]:
                t0 = clock()
                v = decide(policy, call, ctx)
                chunk.append(clock() - t0)
                verdicts[n][v.verdict] = verdicts[n].get(v.verdict, 0) + 1
            cpus.append((cpu() - c0) / len(chunk))
            samples[n] += chunk
            medians.append(statistics.median(chunk))
        diffs.append((medians[1] - medians[0]) / 1000)
        cpu_diffs.append((cpus[1] - cpus[0]) / 1000)
    return samples, verdicts, diffs, cpu_diffs


def main() -> None:
    source = fifty_rule_policy()
    t0 = time.perf_counter()
    policy = compile_policy(source)
    compile_ms = (time.perf_counter() - t0) * 1000
    assert len(policy.rules) == RULES
    calls = workload(CALLS)
    t0 = time.perf_counter()
    index = episode_index()
    index_ms = (time.perf_counter() - t0) * 1000
    guarded = compile_policy(fifty_rule_policy(provenance=True))
    (samples, guarded_samples), (verdicts, guarded_verdicts), diffs, cpu_diffs = measure_pair(
        [(policy, calls), (guarded, workload(CALLS, index))])
    us = sorted(s / 1000 for s in samples)
    p50, p99 = statistics.median(us), us[int(len(us) * 0.99)]
    allow_only = sorted(s / 1000 for s, (c, _) in zip(samples, calls, strict=True) if c.tool.startswith("read_"))
    print(f"policy: {RULES} rules, compiled in {compile_ms:.1f} ms")
    print(f"decisions: {CALLS} ({', '.join(f'{k} {v}' for k, v in sorted(verdicts.items()))})")
    print(f"per decision: median {p50:.2f} us, p99 {p99:.2f} us, mean {statistics.fmean(us):.2f} us")
    print(f"glob-matched allows alone: median {statistics.median(allow_only):.2f} us")
    print(f"target median < 10 us: {'MET' if p50 < 10 else 'MISSED'}")

    pus = sorted(s / 1000 for s in guarded_samples)
    q50, q99 = statistics.median(pus), pus[int(len(pus) * 0.99)]
    added = statistics.median(diffs)
    print(f"provenance: {OBSERVATIONS} untrusted observations indexed ({len(index)} values) in {index_ms:.0f} ms;"
          " 40 rules check `from: trusted`, 26 also `tainted`")
    print(f"decisions: {CALLS} ({', '.join(f'{k} {v}' for k, v in sorted(guarded_verdicts.items()))})")
    print(f"per decision: median {q50:.2f} us, p99 {q99:.2f} us; added to the median {q50 - p50:.2f} us "
          f"(over block pairs: {added:.2f} us)")
    print(f"CPU time added per decision (mean of a block, median over block pairs): {statistics.median(cpu_diffs):.2f} us")
    print(f"target < 10 us added to the median: {'MET' if added < 10 else 'MISSED'}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
