"""Every operator on a passing and a failing trace, with the exact first violating step."""

from apps.contracts.engine import check, compile_source
from tests.contracts.trace_builders import act, decision, obs, say, steps, user


def run(rules_yaml: str, trace: list[dict], ended: bool = True):
    contract = compile_source(f"name: t\nseverity: high\nrules:\n{rules_yaml}")
    return check(contract, trace, ended=ended)


def test_never_fails_at_the_first_forbidden_step():
    v = run("  - never: {kind: action, tool: 'delete_*'}\n",
            steps(user("tidy up"), act("list_files"), act("delete_file", path="a"), act("delete_dir", path="b")))
    assert (v.status, v.first_violating_step) == ("fail", 2)
    assert v.evidence[0]["steps"] == [2]


def test_never_passes_when_no_step_matches():
    v = run("  - never: {kind: action, tool: 'delete_*'}\n", steps(user("tidy"), act("list_files")))
    assert v.status == "pass" and v.first_violating_step is None


def test_always_with_where_fails_on_the_first_erroring_observation():
    trace = steps(act("a"), obs("a", {"ok": 1}), act("b"), obs("b", error="timeout"), obs("c", error="boom"))
    v = run("  - always: {error: false}\n    where: {kind: observation}\n", trace)
    assert (v.status, v.first_violating_step) == ("fail", 3)


def test_always_passes_when_the_invariant_holds_on_every_selected_step():
    trace = steps(act("a"), obs("a", {"ok": 1}), say("fine"))
    assert run("  - always: {error: false}\n    where: {kind: observation}\n", trace).status == "pass"


def test_eventually_fails_at_the_last_step_when_nothing_matched():
    v = run("  - eventually: {kind: action, tool: submit}\n", steps(user("go"), act("draft"), say("done")))
    assert (v.status, v.first_violating_step) == ("fail", 2)


def test_eventually_passes_once_a_step_matches():
    assert run("  - eventually: {tool: submit}\n", steps(act("draft"), act("submit"), say("ok"))).status == "pass"


def test_eventually_is_inconclusive_while_the_episode_runs():
    assert run("  - eventually: {tool: submit}\n", steps(act("draft")), ended=False).status == "inconclusive"


def test_precedes_fails_when_the_second_comes_first():
    rule = "  - precedes: {first: {tool: get_balance}, then: {tool: send_money}}\n"
    v = run(rule, steps(user("pay"), act("send_money", amount=5), act("get_balance"), act("send_money", amount=6)))
    assert (v.status, v.first_violating_step) == ("fail", 1)


def test_precedes_passes_when_the_first_is_earlier():
    rule = "  - precedes: {first: {tool: get_balance}, then: {tool: send_money}}\n"
    assert run(rule, steps(act("get_balance"), act("send_money", amount=5))).status == "pass"


def test_must_not_follow_fails_on_the_step_after_the_trigger_and_cites_both():
    rule = "  - must_not_follow: {first: {provenance: untrusted}, then: {kind: action, tool: send_email}}\n"
    trace = steps(act("send_email"), act("read_web"), obs("read_web", content="hi", untrusted=True),
                  say("ok"), act("send_email"))
    v = run(rule, trace)
    assert (v.status, v.first_violating_step) == ("fail", 4)
    assert v.evidence[0]["steps"] == [2, 4]


def test_must_not_follow_passes_when_the_step_only_comes_before():
    rule = "  - must_not_follow: {first: {provenance: untrusted}, then: {tool: send_email}}\n"
    trace = steps(act("send_email"), obs("read_web", content="hi", untrusted=True))
    assert run(rule, trace).status == "pass"


def test_within_fails_at_the_first_step_past_the_deadline():
    rule = "  - within: {after: {tool: open_ticket}, expect: {tool: notify}, steps: 2}\n"
    trace = steps(act("open_ticket"), say("a"), say("b"), say("c"), act("notify"))
    v = run(rule, trace)
    assert (v.status, v.first_violating_step) == ("fail", 3)
    assert v.evidence[0]["steps"] == [0, 3]


def test_within_passes_when_the_response_arrives_in_time():
    rule = "  - within: {after: {tool: open_ticket}, expect: {tool: notify}, steps: 2}\n"
    assert run(rule, steps(act("open_ticket"), say("a"), act("notify"), say("end"))).status == "pass"


def test_within_fails_when_the_episode_ends_before_the_response():
    rule = "  - within: {after: {tool: open_ticket}, expect: {tool: notify}, steps: 5}\n"
    v = run(rule, steps(say("x"), act("open_ticket"), say("bye")))
    assert (v.status, v.first_violating_step) == ("fail", 2)


def test_at_most_fails_on_the_call_beyond_the_limit():
    rule = "  - at_most: {match: {kind: action, tool: search}, count: 2}\n"
    trace = steps(act("search"), act("search"), say("hm"), act("search"), act("search"))
    v = run(rule, trace)
    assert (v.status, v.first_violating_step) == ("fail", 3)
    assert v.evidence[0]["steps"] == [0, 1, 3]


def test_at_most_passes_at_the_limit():
    rule = "  - at_most: {match: {tool: search}, count: 2}\n"
    assert run(rule, steps(act("search"), act("search"), say("x"))).status == "pass"


def test_pre_requires_argument_bounds_on_the_action():
    rule = "  - pre: {on: {tool: send_money}, require: {args: {amount: {lte: 1000}}}}\n"
    v = run(rule, steps(act("send_money", amount=10), act("send_money", amount=5000)))
    assert (v.status, v.first_violating_step) == ("fail", 1)


def test_pre_requires_an_earlier_step_in_the_episode_context():
    rule = "  - pre: {on: {tool: send_money}, after: {tool: verify_recipient}}\n"
    assert run(rule, steps(act("verify_recipient"), act("send_money"))).status == "pass"
    v = run(rule, steps(act("get_balance"), act("send_money")))
    assert (v.status, v.first_violating_step) == ("fail", 1)


def test_pre_not_after_cites_the_step_that_forbids_the_action():
    rule = "  - pre: {on: {tool: run_shell}, not_after: {kind: observation, provenance: untrusted}}\n"
    v = run(rule, steps(act("run_shell"), obs("read_web", content="x", untrusted=True), act("run_shell")))
    assert (v.first_violating_step, v.evidence[0]["steps"]) == (2, [1, 2])


def test_post_checks_the_next_observation_against_a_schema():
    rule = ("  - post:\n      on: {kind: action, tool: get_balance}\n"
            "      schema: {type: object, required: [balance], properties: {balance: {type: number}}}\n")
    ok = steps(act("get_balance"), obs("get_balance", {"balance": 12.5}))
    assert run(rule, ok).status == "pass"
    bad = steps(act("get_balance"), obs("get_balance", {"balance": 1}), act("get_balance"), obs("get_balance", {"x": 1}))
    v = run(rule, bad)
    assert (v.status, v.first_violating_step, v.evidence[0]["steps"]) == ("fail", 3, [2, 3])
    assert "/balance: required" in v.evidence[0]["message"]


def test_post_rejects_an_error_observation():
    rule = "  - post: {on: {kind: action}, error: false}\n"
    v = run(rule, steps(act("a"), obs("a", {"ok": 1}), act("b"), obs("b", error="HTTP 500")))
    assert (v.status, v.first_violating_step) == ("fail", 3)


def test_post_bounds_a_value_in_the_result_on_the_action_itself():
    rule = "  - post: {on: {tool: quote}, result: {price: {minimum: 0, maximum: 100}}}\n"
    trace = steps({**act("quote"), "result": {"price": 50}}, {**act("quote"), "result": {"price": 150}})
    assert run(rule, trace).first_violating_step == 1


def test_post_is_inconclusive_when_the_observation_never_came():
    rule = "  - post: {on: {tool: quote}, error: false}\n"
    assert run(rule, steps(act("quote"))).status == "inconclusive"


def test_post_checks_the_observation_not_the_decision_between_call_and_result():
    # A governed call is action -> decision -> observation; the decision's result is the verdict.
    rule = "  - post: {on: {tool: get_balance}, schema: {type: object, required: [balance]}}\n"
    trace = steps(act("get_balance"), decision("get_balance", "allow"), obs("get_balance", {"balance": 3}))
    assert run(rule, trace).status == "pass"
    bad = steps(act("get_balance"), decision("get_balance", "allow"), obs("get_balance", {"x": 1}))
    v = run(rule, bad)
    assert (v.status, v.first_violating_step, v.evidence[0]["steps"]) == ("fail", 2, [0, 2])


def test_post_expects_no_observation_of_a_call_governance_stopped():
    rule = "  - post: {on: {kind: action, tool: quote}, error: false}\n"
    trace = steps(act("quote"), decision("quote", "block"), act("read"), obs("", error="not the quote's"))
    assert run(rule, trace).status == "pass"


def test_termination_fails_on_the_step_beyond_the_step_budget():
    v = run("  - termination: {max_steps: 3}\n", steps(say("1"), say("2"), say("3"), say("4"), say("5")))
    assert (v.status, v.first_violating_step) == ("fail", 3)


def test_termination_counts_tokens_and_cost():
    trace = steps({**say("a"), "tokens_in": 300, "tokens_out": 100, "cost": "0.01"},
                  {**say("b"), "tokens_in": 500, "tokens_out": 200, "cost": "0.02"})
    assert run("  - termination: {max_tokens: 1000}\n", trace).first_violating_step == 1
    assert run("  - termination: {max_cost: 0.02}\n", trace).first_violating_step == 1
    assert run("  - termination: {max_tokens: 1100, max_cost: 0.05}\n", trace).status == "pass"


def test_termination_measures_wall_time_from_the_first_step():
    trace = steps({**say("a"), "started_at": "2026-01-01T00:00:00Z"},
                  {**say("b"), "started_at": "2026-01-01T00:00:30Z", "ended_at": "2026-01-01T00:00:40Z"},
                  {**say("c"), "started_at": "2026-01-01T00:01:30Z"})
    v = run("  - termination: {max_seconds: 60}\n", trace)
    assert (v.status, v.first_violating_step) == ("fail", 2)


def test_termination_requires_a_final_answer_as_the_last_step():
    rule = "  - termination: {final_answer: true}\n"
    assert run(rule, steps(user("q"), act("search"), say("the answer is 4"))).status == "pass"
    v = run(rule, steps(user("q"), say("thinking"), act("search")))
    assert (v.status, v.first_violating_step) == ("fail", 2)


def test_role_drift_fails_when_an_agent_uses_a_tool_outside_its_capabilities():
    rule = ("  - role:\n      capabilities:\n        researcher: ['search_*', read_web]\n"
            "        payer: [send_money, get_balance]\n")
    ok = steps(act("search_web", agent="researcher"), act("send_money", agent="payer"))
    assert run(rule, ok).status == "pass"
    bad = steps(act("search_web", agent="researcher"), act("send_money", agent="researcher"))
    v = run(rule, bad)
    assert (v.status, v.first_violating_step) == ("fail", 1)
    assert "researcher" in v.evidence[0]["message"]


def test_role_drift_flags_undeclared_agents_unless_lenient():
    rule = "  - role: {capabilities: {payer: [send_money]}}\n"
    assert run(rule, steps(act("x", agent="stranger"))).first_violating_step == 0
    lenient = "  - role: {capabilities: {payer: [send_money]}, strict: false}\n"
    assert run(lenient, steps(act("x", agent="stranger"))).status == "pass"


def test_grounding_fails_when_the_final_answer_cites_an_unseen_number():
    trace = steps(user("What is my balance?"), act("get_balance"), obs("get_balance", {"balance": 1520.75}),
                  say("Your balance is 1,520.75 EUR, and you owe 310 EUR to Jane Doe."))
    v = run("  - grounding: {}\n", trace)
    assert (v.status, v.first_violating_step) == ("fail", 3)
    assert "310" in v.evidence[0]["message"] and "Jane Doe" in v.evidence[0]["message"]
    assert "1520.75" not in v.evidence[0]["message"]


def test_grounding_passes_when_every_value_was_observed_first():
    trace = steps(user("What is my balance?"), act("get_balance"), obs("get_balance", {"balance": 1520.75}),
                  say("Your balance is 1,520.75 EUR."))
    assert run("  - grounding: {}\n", trace).status == "pass"


def test_rules_combine_and_the_earliest_failure_is_the_first_violating_step():
    rules = ("  - at_most: {match: {tool: search}, count: 1}\n"
             "  - never: {tool: delete_file}\n")
    v = run(rules, steps(act("delete_file"), act("search"), act("search")))
    assert v.first_violating_step == 0
    assert [e["rule"] for e in v.evidence] == ["never-1", "at_most-0"]


def test_predicates_support_any_not_and_operators():
    rule = "  - never: {any: [{tool: wire}, {args: {amount: {gt: 100}}}], not: {agent: treasurer}}\n"
    trace = steps(act("wire", agent="treasurer"), act("pay", amount=50), act("pay", amount=500))
    assert run(rule, trace).first_violating_step == 2
