"""Contract checking for message-action traces. Pure Python: no Django import.

    contract = compile_source(yaml_text)        # raises ContractError naming contract, field, line
    verdict = check(contract, steps)            # steps: dicts with the Step model's field names
    state = contract.start(); contract.feed(state, step); contract.finish(state, ended=False)
"""

from apps.contracts.engine.compiler import OPERATORS, SEVERITIES, compile_source, digest_of
from apps.contracts.engine.contract import Checker, Contract, StepContext, Verdict, check, check_many
from apps.contracts.engine.errors import ContractError
from apps.contracts.engine.rules import FAIL, INCONCLUSIVE, PASS

__all__ = [
    "FAIL", "INCONCLUSIVE", "OPERATORS", "PASS", "SEVERITIES", "Checker", "Contract", "ContractError", "StepContext",
    "Verdict", "check", "check_many", "compile_source", "digest_of",
]
