"""Warden's policy engine: programmable privilege control for tool calls. Pure Python, no Django.

    policy = compile_policy(yaml_text)          # raises PolicyError naming rule, field and line
    verdict = decide(policy, Call("send_money", {"amount": 50}, agent="banker"), Context())
    index = ProvenanceIndex(steps)              # where each value of an episode first appeared
    decide(policy, call, Context(provenance=index))   # for `from: trusted`, `tainted`, `untrusted: {source}`
"""

from apps.policies.engine.compiler import compile_policy, digest_of
from apps.policies.engine.policy import (
    ALLOW,
    ASK,
    BLOCK,
    DEFAULT_RULE,
    MESSAGE,
    REWRITE,
    SEVERITY,
    STOPPING,
    TERMINATE,
    TERMINATED_RULE,
    TOOL,
    VERDICTS,
    Call,
    CompiledPolicy,
    Context,
    Verdict,
    decide,
)
from apps.policies.engine.provenance import Origin, ProvenanceIndex, ProvenanceView
from apps.policies.engine.source import Issue, PolicyError
from apps.policies.engine.testcases import TestResult, context_from, context_problems, run_tests

__all__ = [
    "ALLOW", "ASK", "BLOCK", "DEFAULT_RULE", "MESSAGE", "REWRITE", "SEVERITY", "STOPPING", "TERMINATE",
    "TERMINATED_RULE", "TOOL", "VERDICTS", "Call", "CompiledPolicy", "Context", "Issue", "Origin", "PolicyError",
    "ProvenanceIndex", "ProvenanceView", "TestResult", "Verdict", "compile_policy", "context_from",
    "context_problems", "decide", "digest_of", "run_tests",
]
