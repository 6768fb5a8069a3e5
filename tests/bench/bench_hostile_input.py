"""Hostile input is refused fast: YAML bombs and deep nesting, catastrophic regexes, and what the
one JSON reader costs on a normal /decide body and a 500-step batch.

    .venv/bin/python tests/bench/bench_hostile_input.py
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import json
import statistics
import time

from apps.core.documents import compile_pattern, load_document
from apps.core.jsonbody import json_parse


def billion_laughs() -> str:
    lines = ["a0: &a0 [lol]"] + [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    return "\n".join(lines) + "\n"


def ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def refused(parse, text) -> None:
    """Runs `parse(text)`, which must refuse it (DocumentError and JsonBodyError are ValueErrors)."""
    try:
        parse(text)
    except ValueError:
        return
    raise AssertionError("accepted")


def main() -> None:
    yaml_cases = {
        "alias bomb (9 levels x 9)": billion_laughs(),
        "flow list nested 1,000 deep": "a: " + "[" * 1000 + "]" * 1000,
        "flow list nested 99,000 deep": "a: " + "[" * 99_000 + "]" * 99_000,
        "10,001 values": "a: [" + ",".join(["1"] * 10_001) + "]",
    }
    for name, text in yaml_cases.items():
        print(f"YAML {name} ({len(text):,} chars): refused in {ms(lambda t=text: refused(load_document, t)):.1f} ms")
    rx = compile_pattern(r"^(a+)+$")
    text = "a" * 50_000 + "b"
    print(f"RE2 '^(a+)+$' on 50,001 characters: {ms(lambda: rx.search(text)):.2f} ms (Python re: hours)")
    decide = json.dumps({"episode": "ep-42", "agent": "banker", "tool": "send_money",
                         "arguments": {"recipient": "UK12345678", "amount": 250.5}}).encode()
    batch = json.dumps({"steps": [
        {"index": i, "kind": "action", "agent": "bot", "tool": "search", "content": "x" * 200, "tokens_in": 12,
         "arguments": {"q": "weather in paris", "n": i, "opts": {"lang": "en", "safe": True}}, "cost": 0.001}
        for i in range(500)]}).encode()
    for name, body, n in (("/decide body", decide, 20_000), ("500-step batch", batch, 50)):
        plain = ms(lambda b=body, k=n: [json.loads(b) for _ in range(k)]) / n
        checked = ms(lambda b=body, k=n: [json_parse(b) for _ in range(k)]) / n
        print(f"JSON {name} ({len(body):,} bytes): json.loads {plain * 1e3:.1f} us, json_parse {checked * 1e3:.1f} us")
    nested = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    print(f"JSON nested 5,000 deep: refused in {ms(lambda: refused(json_parse, nested)):.2f} ms")


if __name__ == "__main__":
    main()
