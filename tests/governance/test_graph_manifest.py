"""Graph manifests: each validation error names its line; valid graphs compile to a stable digest."""

import pytest

from apps.governance.graph import GraphError, compile_graph
from apps.governance.graph.diagram import render_svg
from tests.governance.builders import MARKET

BASE = """\
name: g
initial: a
states:
  a: {}
  b: {}
transitions:
  - {from: a, to: b, when: "block_rate > 0.5"}
"""


def _problems(source: str) -> list[tuple[int, str]]:
    with pytest.raises(GraphError) as info:
        compile_graph(source)
    return [(p.line, p.message) for p in info.value.problems]


def test_market_manifest_compiles_with_every_transition():
    graph = compile_graph(MARKET)
    assert graph.initial == "compliant"
    assert [t.target for t in graph.transitions] == [
        "warned", "restricted", "suspended", "compliant", "warned", "restricted", "trusted",
    ]


def test_digest_ignores_formatting_but_not_content():
    reformatted = MARKET.replace("tools: [produce, set_price, send_message, read_market]",
                                 "tools:\n  - produce\n  - set_price\n  - send_message\n  - read_market")
    assert compile_graph(reformatted).digest == compile_graph(MARKET).digest
    assert compile_graph(MARKET.replace("minimum: 10", "minimum: 11")).digest != compile_graph(MARKET).digest


def test_unknown_target_state_is_reported_on_its_line():
    source = BASE.replace("to: b,", "to: c,")
    assert any(line == 7 and "unknown state 'c'" in msg for line, msg in _problems(source))


def test_a_state_named_by_a_list_is_an_unknown_state_on_its_line():
    assert (7, "transition: unknown state ['b']") in _problems(BASE.replace("to: b,", "to: [b],"))
    assert (7, "transition: unknown state ['a']") in _problems(BASE.replace("from: a,", "from: [[a]],"))
    decaying = BASE.replace("  a: {}\n", "  a: {decay: {after: 1d, to: [b]}}\n")
    assert (4, "decay: unknown state ['b']") in _problems(decaying)


def test_unknown_initial_state_is_reported_on_its_line():
    assert (2, "initial: unknown state 'z'") in _problems(BASE.replace("initial: a", "initial: z"))


def test_unreachable_state_is_reported_on_its_line():
    source = BASE.replace("  b: {}\n", "  b: {}\n  island: {}\n")
    assert (6, "state 'island' is unreachable from the initial state 'a'") in _problems(source)


def test_transitions_that_can_fire_together_to_different_states_are_an_error():
    source = BASE.replace("  b: {}\n", "  b: {}\n  c: {}\n") + '  - {from: a, to: c, when: "block_rate > 0.8"}\n'
    problems = _problems(source)
    assert problems[0][0] == 9
    assert "can fire together with the transition to 'b' (line 8)" in problems[0][1]


def test_transitions_with_exclusive_conditions_are_accepted():
    source = BASE.replace("  b: {}\n", "  b: {}\n  c: {}\n") + '  - {from: a, to: c, when: "block_rate <= 0.5 and decisions.blocked >= 3"}\n'
    assert compile_graph(source).states.keys() == {"a", "b", "c"}


def test_clean_round_restoration_conflicts_with_a_condition_a_clean_round_can_meet():
    source = BASE.replace("  b: {}\n", "  b: {}\n  c: {}\n") + (
        '  - {from: b, to: c, when: "metric.collusion_tier >= 3"}\n'
        "restore:\n  - {from: b, to: a, after_clean_rounds: 2}\n"
    )
    assert any(line == 11 and "can fire together" in msg for line, msg in _problems(source))


def test_clean_round_restoration_does_not_conflict_with_a_violation_trigger():
    source = BASE.replace("  b: {}\n", "  b: {}\n  c: {}\n") + (
        '  - {from: b, to: c, when: "violations.severe >= 1 within 5 steps"}\n'
        "restore:\n  - {from: b, to: a, after_clean_rounds: 2}\n"
    )
    assert compile_graph(source).initial == "a"


def test_sanction_naming_an_undeclared_tool_is_reported_on_its_line():
    source = BASE.replace("name: g\n", "name: g\ntools: [read_file]\n").replace(
        "  b: {}\n", "  b:\n    sanctions:\n      - revoke: [send_money]\n"
    )
    assert (8, "sanction names unknown tool 'send_money' (declared: read_file)") in _problems(source)


def test_sanction_glob_matching_a_declared_tool_is_accepted():
    source = BASE.replace("name: g\n", "name: g\ntools: [send_money]\n").replace(
        "  b: {}\n", "  b:\n    sanctions:\n      - revoke: 'send_*'\n"
    )
    assert compile_graph(source).states["b"].sanctions == ({"kind": "revoke", "tool": "send_*"},)


def test_unreadable_condition_is_reported_on_its_line():
    problems = _problems(BASE.replace('"block_rate > 0.5"', '"block rate is high"'))
    assert problems[0][0] == 7 and "cannot read" in problems[0][1]


def test_unknown_metric_is_reported():
    problems = _problems(BASE.replace('"block_rate > 0.5"', '"happiness > 0.5"'))
    assert problems == [(7, "when: unknown metric 'happiness'")]


def test_broken_yaml_is_reported_with_its_line():
    problems = _problems("name: g\nstates: [a\n")
    assert problems[0][0] == 3 and "not valid YAML" in problems[0][1]


def test_duplicate_state_is_reported_on_the_second_line():
    assert (5, "duplicate key 'a'") in _problems(BASE.replace("  b: {}\n", "  a: {}\n"))


def test_bad_decay_duration_is_reported():
    source = BASE.replace("  b: {}\n", "  b:\n    decay: {after: soon, to: a}\n")
    assert any(line == 6 and "duration 'soon'" in msg for line, msg in _problems(source))


def test_diagram_draws_every_state_and_arrow():
    svg = render_svg(compile_graph(MARKET))
    assert svg.startswith("<svg")
    for state in ("compliant", "warned", "restricted", "suspended", "trusted"):
        assert f'data-state="{state}"' in svg
    assert svg.count("marker-end=") == 11  # 10 transition arrows (one per source) + 1 decay
