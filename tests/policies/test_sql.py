"""The /decide statements: hand-kept column lists match the models, and the statements are the golden files.

tests/policies/golden/ shows each statement whole and readable; when a change to any fragment
(tenancy, traces, audit, policies, a receiver's work condition) alters one, its golden file is
updated in the same commit, so a reviewer sees the whole new statement.
"""

import re
import typing
from pathlib import Path

from django.db import models

from apps.policies import sql
from apps.policies.models import Decision, EpisodeGuard
from apps.policies.records import DecisionRow
from apps.traces.sql import step_next_sql

GOLDEN = Path(__file__).parent / "golden"
ROUTINE_STEP = {
    "kind": "decision", "actor": "governance", "agent": "banker", "tool": "send_money",
    "arguments": {"amount": 50}, "result": {"verdict": "allow", "arguments": {"amount": 50}, "message": "",
                                            "rule": "known-recipients"},
    "attributes": {"verdict": "allow", "rule": "known-recipients", "decision_id": 1, "policy": "d1"},
}


def _columns(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields]


def _tokens(statement: str) -> str:
    """A statement without `--` comments, one space per run of white space and none inside parentheses:
    the golden files are laid out for reading, the code compacts for the driver."""
    text = " ".join(re.sub(r"--[^\n]*", "", statement).split())
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))


def _golden(name: str) -> str:
    return _tokens((GOLDEN / name).read_text())


def test_decision_columns_are_every_column_of_the_decision_model():
    assert sorted(sql.DECISION_COLUMNS) == sorted(_columns(Decision))


def test_the_typed_decision_row_has_exactly_the_written_columns():
    assert list(typing.get_type_hints(DecisionRow)) == list(sql.DECISION_COLUMNS)


def test_json_columns_of_the_decision_are_cast_to_jsonb():
    json_fields = {f.column for f in Decision._meta.concrete_fields if isinstance(f, models.JSONField)}
    assert {c for c, t in sql.DECISION_COLUMNS.items() if t == "jsonb"} == json_fields


def test_guard_columns_are_every_column_of_the_guard_model():
    assert sorted(sql.GUARD_COLUMNS) == sorted(_columns(EpisodeGuard))


def test_the_routine_decision_write_is_the_golden_statement():
    step_sql, _params = step_next_sql(step=dict(ROUTINE_STEP), after="g")
    assert _tokens(sql.write_sql(step_sql)) == _golden("decision_write.sql")


def test_the_context_read_by_key_is_the_golden_statement():
    assert _tokens(sql.context_sql(by_key=True)) == _golden("decide_context_by_key.sql")
