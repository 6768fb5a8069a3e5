"""Every policy shipped under examples/ compiles and passes its own embedded tests."""

from pathlib import Path

import pytest

from apps.policies.engine import compile_policy, run_tests

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
SHIPPED = sorted(EXAMPLES.rglob("*.yaml"))


def test_the_examples_folder_holds_the_agentdojo_policies():
    names = {p.relative_to(EXAMPLES).as_posix() for p in SHIPPED}
    suites = ("banking", "slack", "travel", "workspace")
    assert {f"agentdojo/{s}{v}.yaml" for s in suites for v in ("", "-provenance")} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_a_shipped_policy_compiles_and_passes_its_tests(path):
    policy = compile_policy(path.read_text())  # raises PolicyError naming the line
    failed = [f"{r.case.name}: {'; '.join(r.failures)}" for r in run_tests(policy) if r.failures]
    assert failed == []
