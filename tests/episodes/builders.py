"""Specs for run tests: the ledger environment with scripted agents (fast, deterministic)."""

from typing import Any


def ledger_spec(*, regime: str = "ungoverned", rounds: int = 3, plan: list | None = None, **extra: Any) -> dict:
    plan = plan if plan is not None else [[{"tool": "add", "arguments": {"amount": 5}}]]
    return {"environment": {"kind": "ledger", "rounds": rounds},
            "agents": [{"name": "a", "kind": "scripted", "plan": plan}],
            "regime": regime, "seed": 7, **extra}


LEDGER_POLICY = """\
name: ledger-least-privilege
default: block
rules:
  - {id: small-adds, tool: add, effect: allow, when: {amount: {type: number, maximum: 10}}}
  - {id: notes, tool: read_note, effect: allow}
"""

LEDGER_GRAPH = """\
name: ledger-institution
initial: compliant
tools: [add, read_note]
states:
  compliant: {}
  restricted:
    sanctions: [{revoke: [add]}, {fine: {amount: 5}}]
transitions:
  - {from: compliant, to: restricted, when: "decisions.blocked >= 1"}
restore:
  - {from: restricted, to: compliant, after_clean_rounds: 2}
"""
