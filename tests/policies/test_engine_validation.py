"""Validation messages name the rule, the field and the line; embedded tests gate trust."""

import pytest

from apps.policies.engine import PolicyError, compile_policy, run_tests


def issues_of(text: str) -> list:
    with pytest.raises(PolicyError) as exc:
        compile_policy(text)
    return exc.value.issues


def test_a_misspelt_effect_names_rule_field_and_line():
    [issue] = issues_of("name: x\nrules:\n  - id: pay\n    tool: pay\n    effect: alow\n")
    assert (issue.rule, issue.field, issue.line) == ("pay", "rules[0].effect", 5)


def test_a_misspelt_schema_keyword_is_caught_with_its_line():
    [issue] = issues_of("name: x\nrules:\n  - tool: pay\n    effect: allow\n    when:\n      amount: {maximun: 3}\n")
    assert issue.field == "rules[0].when.amount.maximun"
    assert issue.line == 6
    assert "maximun" in issue.message


def test_a_bad_regular_expression_is_reported():
    [issue] = issues_of("name: x\nrules:\n  - tool: t\n    effect: allow\n    when: {a: {pattern: '(['}}\n")
    assert "regular expression" in issue.message


def test_a_yaml_syntax_error_reports_its_line():
    [issue] = issues_of("name: x\nrules:\n  - tool: [unclosed\n    effect: allow\n")
    assert issue.line is not None and issue.line >= 3


def test_duplicate_keys_are_reported_not_silently_overwritten():
    [issue] = issues_of("name: x\nrules:\n  - tool: t\n    effect: allow\n    effect: deny\n")
    assert (issue.line, "duplicate") == (5, issue.message.split()[0])


def test_every_problem_is_reported_at_once():
    issues = issues_of("name: x\nrules:\n  - {tool: a, effect: nope}\n  - {effect: allow}\n")
    assert [i.field for i in issues] == ["rules[0].effect", "rules[1].tool"]


def test_an_unknown_condition_is_reported_with_its_rule():
    [issue] = issues_of("name: x\nrules:\n  - id: r\n    tool: t\n    effect: allow\n    if: {untrustd: true}\n")
    assert (issue.rule, issue.field, issue.line) == ("r", "rules[0].if.untrustd", 6)


def test_a_rewrite_without_operations_is_refused():
    [issue] = issues_of("name: x\nrules:\n  - tool: t\n    effect: deny\n    fallback: {action: rewrite}\n")
    assert "set, clamp, drop" in issue.message


def test_ask_settings_on_a_block_are_refused():
    [issue] = issues_of("name: x\nrules:\n  - tool: t\n    effect: deny\n    fallback: {action: block, timeout: 5}\n")
    assert issue.field == "rules[0].fallback.action"


def test_duplicate_rule_ids_are_refused():
    [issue] = issues_of("name: x\nrules:\n  - {id: a, tool: t, effect: allow}\n  - {id: a, tool: u, effect: allow}\n")
    assert (issue.field, issue.line) == ("rules[1].id", 4)


def test_a_bad_time_of_day_is_refused():
    [issue] = issues_of("name: x\nrules:\n  - {tool: t, effect: allow, if: {time: {after: '25:99'}}}\n")
    assert issue.field == "rules[0].if.time.after"


def test_a_malformed_test_case_is_reported_with_its_line():
    [issue] = issues_of("name: x\nrules: []\ntests:\n  - name: a\n    call: {tool: t}\n    expect: maybe\n")
    assert (issue.field, issue.line) == ("tests[0].expect", 6)


SOURCE = """
name: bank
rules:
  - id: cap
    tool: pay
    effect: allow
    when: {amount: {maximum: 100}}
    fallback: {action: rewrite, clamp: {amount: {maximum: 100}}}
tests:
  - name: big payments are capped
    call: {tool: pay, arguments: {amount: 500}}
    expect: {verdict: rewrite, arguments: {amount: 100}, rule: cap}
  - name: deleting is blocked
    call: {tool: delete}
    expect: allow
"""


def test_embedded_test_cases_run_and_report_each_result():
    results = run_tests(compile_policy(SOURCE))
    assert [r.passed for r in results] == [True, False]


def test_a_failing_test_case_names_itself_its_line_and_what_differed():
    failed = run_tests(compile_policy(SOURCE))[1]
    assert "deleting is blocked" in str(failed) and "line 13" in str(failed)
    assert "expected verdict 'allow', got 'block'" in str(failed)


def test_test_cases_can_set_the_episode_context():
    text = ("name: x\nrules:\n  - {tool: pay, effect: allow, if: {untrusted: false, calls: {max: 2}}}\n"
            "tests:\n  - {name: a, call: {tool: pay}, context: {untrusted: true}, expect: block}\n"
            "  - {name: b, call: {tool: pay}, context: {calls: {pay: 2}}, expect: block}\n"
            "  - {name: c, call: {tool: pay}, context: {calls: {pay: 1}}, expect: allow}\n")
    assert all(r.passed for r in run_tests(compile_policy(text)))
