"""Warden's policy engine: programmable privilege control for tool calls. Pure Python, no Django.

    policy = compile_policy(yaml_text)          # raises PolicyError naming rule, field and line
    verdict = decide(policy, Call("send_money", {"amount": 50}, agent="banker"), Context())
"""

from apps.policies.engine.compiler import compile_policy, digest_of
from apps.policies.engine.policy import (
    ALLOW,
    ASK,
    BLOCK,
    REWRITE,
    SEVERITY,
    STOPPING,
    TERMINATE,
    TERMINATED_RULE,
    VERDICTS,
    Call,
    CompiledPolicy,
    Context,
    Verdict,
    decide,
)
from apps.policies.engine.source import Issue, PolicyError
from apps.policies.engine.testcases import TestResult, context_from, context_problems, run_tests

__all__ = [
    "ALLOW", "ASK", "BLOCK", "REWRITE", "SEVERITY", "STOPPING", "TERMINATE", "TERMINATED_RULE", "VERDICTS", "Call", "CompiledPolicy",
    "Context", "Issue", "PolicyError", "TestResult", "Verdict", "compile_policy", "context_from",
    "context_problems", "decide", "digest_of", "run_tests",
]
