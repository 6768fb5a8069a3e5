"""The contract language: versions hash by content; errors name contract, field and line."""

import pytest

from apps.contracts.engine import ContractError, compile_source

GOOD = """\
name: banking
description: payments stay safe
severity: high
runtime: true
rules:
  - never: {tool: delete_account}
"""


def error_of(source: str) -> ContractError:
    with pytest.raises(ContractError) as info:
        compile_source(source)
    return info.value


def test_a_valid_contract_compiles_with_its_metadata():
    c = compile_source(GOOD)
    assert (c.name, c.severity, c.runtime, len(c.rules)) == ("banking", "high", True, 1)


def test_the_digest_ignores_comments_and_layout_but_not_content():
    same = GOOD.replace("rules:", "# a comment\nrules:").replace("{tool: delete_account}", "\n      tool: delete_account")
    assert compile_source(same).digest == compile_source(GOOD).digest
    assert compile_source(GOOD.replace("high", "low")).digest != compile_source(GOOD).digest


def test_an_unknown_step_field_is_named_with_its_line():
    e = error_of("name: c\nrules:\n  - never: {kind: action}\n  - always:\n      tol: x\n")
    assert (e.contract, e.field, e.line) == ("c", "rules[1].always.tol", 5)


def test_an_unknown_operator_is_named_with_its_line():
    e = error_of("name: c\nrules:\n  - never: {tool: a}\n  - sometimes: {tool: b}\n")
    assert e.field == "rules[1].sometimes" and e.line == 4


def test_a_bad_severity_names_the_field():
    e = error_of("name: c\nseverity: urgent\nrules:\n  - never: {tool: a}\n")
    assert (e.field, e.line) == ("severity", 2)


def test_missing_required_arguments_are_reported():
    e = error_of("name: c\nrules:\n  - within: {after: {tool: a}, expect: {tool: b}}\n")
    assert e.field == "rules[0].within.steps"


def test_an_invalid_regex_is_reported_not_raised_raw():
    e = error_of("name: c\nrules:\n  - never: {content: {regex: '(unclosed'}}\n")
    assert e.field == "rules[0].never.content.regex" and e.line == 3


def test_invalid_yaml_reports_the_line():
    e = error_of("name: c\nrules:\n  - never: {tool: [a\n")
    assert e.line is not None and "invalid YAML" in e.message


def test_a_contract_without_rules_is_rejected():
    assert error_of("name: c\nrules: []\n").field == "rules"


def test_unsupported_schema_keywords_are_rejected():
    e = error_of("name: c\nrules:\n  - post: {on: {tool: a}, schema: {type: object, $ref: x}}\n")
    assert "unsupported schema keyword" in e.message and e.line == 3


def test_a_missing_name_is_reported():
    assert error_of("rules:\n  - never: {tool: a}\n").field == "name"
