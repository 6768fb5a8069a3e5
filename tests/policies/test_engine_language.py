"""The policy language, construct by construct, through the pure engine (no database)."""

from datetime import UTC, datetime

import pytest

from apps.policies.engine import Call, Context, PolicyError, compile_policy, decide


def policy(rules: str, default: str = "block") -> object:
    return compile_policy(f"name: t\ndefault: {default}\nrules:\n{rules}")


def verdict_of(p, tool, arguments=None, agent="a", **ctx):
    return decide(p, Call(tool, arguments or {}, agent), Context(**ctx))


def test_a_tool_no_rule_mentions_gets_the_default_block():
    p = policy("  - {tool: read_file, effect: allow}")
    v = verdict_of(p, "delete_file")
    assert (v.verdict, v.rule) == ("block", "default")


def test_a_default_of_allow_lets_unmentioned_tools_through():
    p = policy("  - {tool: rm, effect: deny}", default="allow")
    assert verdict_of(p, "ls").verdict == "allow"


def test_a_default_may_be_a_fallback_such_as_ask():
    p = policy("  - {tool: ls, effect: allow}", default="{action: ask, timeout: 30, default: block}")
    v = verdict_of(p, "rm")
    assert (v.verdict, v.timeout, v.default) == ("ask", 30, "block")


def test_an_exact_tool_rule_allows_its_tool():
    p = policy("  - {id: r, tool: read_file, effect: allow}")
    v = verdict_of(p, "read_file")
    assert (v.verdict, v.rule) == ("allow", "r")


def test_a_glob_rule_matches_every_tool_it_covers():
    p = policy("  - {tool: 'read_*', effect: allow}")
    assert verdict_of(p, "read_mail").verdict == "allow"
    assert verdict_of(p, "write_mail").verdict == "block"


@pytest.mark.parametrize(("schema", "good", "bad"), [
    ("{enum: [UK1, UK2]}", "UK2", "FR9"),
    ("{pattern: '^[a-z]+@corp\\.com$'}", "bob@corp.com", "bob@evil.com"),
    ("{type: number, minimum: 1, maximum: 100}", 100, 101),
    ("{type: string, minLength: 2, maxLength: 4}", "abcd", "abcde"),
    ("{type: string, format: email}", "a@b.co", "not-an-email"),
    ("{type: integer}", 3, 3.5),
])
def test_argument_constraints_are_json_schema_per_argument(schema, good, bad):
    p = policy(f"  - tool: t\n    effect: allow\n    when:\n      x: {schema}")
    assert verdict_of(p, "t", {"x": good}).verdict == "allow"
    assert verdict_of(p, "t", {"x": bad}).verdict == "block"


def test_a_constrained_argument_must_be_present_unless_marked_optional():
    p = policy("  - tool: t\n    effect: allow\n    when:\n      x: {maximum: 3}\n      y: {maximum: 3, optional: true}")
    assert verdict_of(p, "t", {"x": 1}).verdict == "allow"
    assert verdict_of(p, "t", {"y": 1}).verdict == "block"


def test_a_refused_call_reports_which_constraint_failed():
    p = policy("  - tool: t\n    effect: allow\n    when:\n      amount: {maximum: 10}")
    assert "amount" in verdict_of(p, "t", {"amount": 50}).detail


def test_a_deny_rule_with_constraints_denies_only_matching_arguments():
    p = policy("  - {tool: send, effect: allow}\n"
               "  - {tool: send, effect: deny, when: {to: {pattern: '@evil'}}}")
    assert verdict_of(p, "send", {"to": "a@good"}).verdict == "allow"
    assert verdict_of(p, "send", {"to": "a@evil"}).verdict == "block"


def test_higher_priority_wins_over_a_lower_deny():
    p = policy("  - {id: lo, tool: t, effect: deny, priority: 1}\n  - {id: hi, tool: t, effect: allow, priority: 5}")
    assert verdict_of(p, "t").rule == "hi"


def test_higher_priority_deny_wins_over_a_lower_allow():
    p = policy("  - {id: lo, tool: t, effect: allow, priority: 1}\n  - {id: hi, tool: t, effect: deny, priority: 5}")
    v = verdict_of(p, "t")
    assert (v.verdict, v.rule) == ("block", "hi")


def test_at_equal_priority_deny_beats_allow_whatever_the_file_order():
    p = policy("  - {id: permit, tool: t, effect: allow, priority: 3}\n  - {id: refuse, tool: t, effect: deny, priority: 3}")
    assert verdict_of(p, "t").rule == "refuse"


def test_an_exact_rule_and_a_glob_rule_compete_on_priority_alone():
    p = policy("  - {id: all-read, tool: 'read_*', effect: deny, priority: 2}\n"
               "  - {id: one, tool: read_file, effect: allow, priority: 1}")
    assert verdict_of(p, "read_file").rule == "all-read"


def test_a_lower_allow_rule_can_allow_what_a_higher_allow_rule_constrained():
    p = policy("  - {id: big, tool: pay, effect: allow, priority: 5, when: {to: {enum: [UK1]}}}\n"
               "  - {id: tiny, tool: pay, effect: allow, when: {amount: {maximum: 5}}}")
    assert verdict_of(p, "pay", {"to": "X", "amount": 3}).rule == "tiny"


def test_block_fallback_returns_its_message_to_the_agent():
    p = policy("  - tool: pay\n    effect: allow\n    when: {to: {enum: [UK1]}}\n"
               "    fallback: {action: block, message: recipient is not on the allow-list}")
    v = verdict_of(p, "pay", {"to": "X"})
    assert (v.verdict, v.message) == ("block", "recipient is not on the allow-list")


def test_rewrite_fallback_clamps_a_number_into_range():
    p = policy("  - tool: pay\n    effect: allow\n    when: {amount: {maximum: 100}}\n"
               "    fallback: {action: rewrite, clamp: {amount: {maximum: 100}}}")
    v = verdict_of(p, "pay", {"amount": 5000})
    assert (v.verdict, v.arguments) == ("rewrite", {"amount": 100})


def test_rewrite_fallback_sets_and_drops_arguments():
    p = policy("  - tool: mail\n    effect: allow\n    when: {to: {const: me@corp.com}, bcc: {not: {}, optional: true}}\n"
               "    fallback: {action: rewrite, set: {to: me@corp.com}, drop: [bcc]}")
    v = verdict_of(p, "mail", {"to": "x@evil.com", "bcc": "y@evil.com", "body": "hi"})
    assert v.arguments == {"to": "me@corp.com", "body": "hi"}


def test_rewrite_fallback_truncates_long_text():
    p = policy("  - tool: post\n    effect: allow\n    when: {text: {maxLength: 5}}\n"
               "    fallback: {action: rewrite, clamp: {text: {max_length: 5}}}")
    assert verdict_of(p, "post", {"text": "abcdefgh"}).arguments == {"text": "abcde"}


def test_a_rewrite_that_still_breaks_the_rules_becomes_a_block():
    p = policy("  - tool: pay\n    effect: allow\n    when: {amount: {maximum: 100}, to: {enum: [UK1]}}\n"
               "    fallback: {action: rewrite, clamp: {amount: {maximum: 100}}}")
    assert verdict_of(p, "pay", {"amount": 500, "to": "X"}).verdict == "block"


def test_a_rewrite_cannot_slip_past_a_deny_rule():
    p = policy("  - tool: pay\n    effect: allow\n    when: {amount: {maximum: 100}}\n"
               "    fallback: {action: rewrite, set: {amount: 100}}\n"
               "  - {id: frozen, tool: pay, effect: deny, when: {amount: {minimum: 100}}}")
    v = verdict_of(p, "pay", {"amount": 500})
    assert (v.verdict, v.rule) == ("block", "frozen")


def test_ask_fallback_carries_its_timeout_and_default():
    p = policy("  - tool: pw\n    effect: deny\n    fallback: {action: ask, timeout: 90, default: allow}")
    v = verdict_of(p, "pw")
    assert (v.verdict, v.timeout, v.default) == ("ask", 90, "allow")


def test_terminate_fallback_terminates():
    p = policy("  - {tool: exfiltrate, effect: deny, fallback: {action: terminate, message: stop}}")
    assert verdict_of(p, "exfiltrate").verdict == "terminate"


def test_condition_untrusted_content_seen_blocks_a_sensitive_tool():
    p = policy("  - {tool: pay, effect: allow, if: {untrusted: false}}")
    assert verdict_of(p, "pay", untrusted=False).verdict == "allow"
    assert verdict_of(p, "pay", untrusted=True).verdict == "block"


def test_condition_calls_allows_at_most_three_calls_per_episode():
    p = policy("  - {tool: send_money, effect: allow, if: {calls: {max: 3}}}")
    assert verdict_of(p, "send_money", counts={"send_money": 2}).verdict == "allow"
    assert verdict_of(p, "send_money", counts={"send_money": 3}).verdict == "block"


def test_condition_calls_can_count_another_tool_by_glob():
    p = policy("  - {tool: pay, effect: allow, if: {calls: {tool: 'verify_*', min: 1}}}")
    assert verdict_of(p, "pay", counts={}).verdict == "block"
    assert verdict_of(p, "pay", counts={"verify_id": 1}).verdict == "allow"


def test_condition_steps_bounds_the_episode_length():
    p = policy("  - {tool: t, effect: allow, if: {steps: {max: 10}}}")
    assert verdict_of(p, "t", steps=10).verdict == "allow"
    assert verdict_of(p, "t", steps=11).verdict == "block"


def test_condition_agent_matches_names_and_globs():
    p = policy("  - {tool: t, effect: allow, if: {agent: [planner, 'bank-*']}}")
    assert verdict_of(p, "t", agent="bank-1").verdict == "allow"
    assert verdict_of(p, "t", agent="intruder").verdict == "block"


def test_condition_state_reads_the_agents_governance_state():
    p = policy("  - {tool: t, effect: allow, if: {state: good_standing}}")
    assert verdict_of(p, "t", state="good_standing").verdict == "allow"
    assert verdict_of(p, "t", state="probation").verdict == "block"
    assert verdict_of(p, "t", state=None).verdict == "block"


def test_condition_environment_matches_a_glob():
    p = policy("  - {tool: t, effect: allow, if: {environment: 'staging*'}}")
    assert verdict_of(p, "t", environment="staging-2").verdict == "allow"
    assert verdict_of(p, "t", environment="prod").verdict == "block"


def test_condition_time_window_on_weekdays_in_a_time_zone():
    p = policy("  - {tool: t, effect: allow, if: {time: {after: '09:00', before: '17:00', days: [mon, tue, wed, thu, fri], tz: Europe/London}}}")
    monday_ten_london = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    saturday = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
    monday_night = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)
    assert verdict_of(p, "t", now=monday_ten_london).verdict == "allow"
    assert verdict_of(p, "t", now=saturday).verdict == "block"
    assert verdict_of(p, "t", now=monday_night).verdict == "block"


def test_condition_time_window_may_span_midnight():
    p = policy("  - {tool: backup, effect: allow, if: {time: {after: '22:00', before: '04:00'}}}")
    assert verdict_of(p, "backup", now=datetime(2026, 1, 5, 23, 0, tzinfo=UTC)).verdict == "allow"
    assert verdict_of(p, "backup", now=datetime(2026, 1, 5, 12, 0, tzinfo=UTC)).verdict == "block"


def test_conditions_compose_with_all_any_and_not():
    p = policy("  - tool: t\n    effect: allow\n    if:\n      any:\n        - agent: admin\n"
               "        - all: [{not: {untrusted: true}}, {steps: {max: 5}}]")
    assert verdict_of(p, "t", agent="admin", untrusted=True, steps=50).verdict == "allow"
    assert verdict_of(p, "t", agent="x", untrusted=False, steps=3).verdict == "allow"
    assert verdict_of(p, "t", agent="x", untrusted=True, steps=3).verdict == "block"
    assert verdict_of(p, "t", agent="x", untrusted=False, steps=9).verdict == "block"


def test_a_suspended_agent_is_blocked_on_every_call():
    p = policy("  - {tool: '*', effect: allow}")
    v = verdict_of(p, "read", suspended=True)
    assert (v.verdict, v.rule) == ("block", "governance:suspended")


def test_a_revoked_tool_is_blocked_even_when_a_rule_allows_it():
    p = policy("  - {tool: '*', effect: allow}")
    v = verdict_of(p, "send_money", revoked_tools=["send_*"])
    assert (v.verdict, v.rule) == ("block", "governance:revoked")
    assert verdict_of(p, "read", revoked_tools=["send_*"]).verdict == "allow"


def test_governance_argument_bounds_tighten_a_rule():
    p = policy("  - {tool: pay, effect: allow, when: {amount: {maximum: 1000}}}")
    bounds = {"pay": {"amount": {"maximum": 50}}}
    assert verdict_of(p, "pay", {"amount": 40}, arg_bounds=bounds).verdict == "allow"
    v = verdict_of(p, "pay", {"amount": 60}, arg_bounds=bounds)
    assert (v.verdict, v.rule) == ("block", "governance:arg_bounds")


def test_the_digest_ignores_comments_and_layout():
    a = compile_policy("name: x\nrules: [{tool: t, effect: allow}]")
    b = compile_policy("# comment\nname: x\nrules:\n  - tool: t\n    effect: allow\n")
    c = compile_policy("name: x\nrules: [{tool: t, effect: deny}]")
    assert a.digest == b.digest != c.digest


def test_json_policies_are_read_like_yaml():
    p = compile_policy('{"name": "j", "rules": [{"tool": "t", "effect": "allow"}]}')
    assert decide(p, Call("t", {}), Context()).verdict == "allow"


def test_a_narrowing_can_take_a_permission_away():
    base = policy("  - {tool: '*', effect: allow}")
    overlay = compile_policy("default: block\nrules: [{tool: read_file, effect: allow}]", narrowing=True)
    assert decide(base, Call("read_file", {}), Context(), [overlay]).verdict == "allow"
    v = decide(base, Call("send_money", {}), Context(), [overlay])
    assert (v.verdict, v.rule) == ("block", "narrowing:default")


def test_a_narrowing_cannot_widen_what_the_policy_forbids():
    base = policy("  - {id: no-pay, tool: pay, effect: deny}", default="allow")
    overlay = compile_policy("default: allow\nrules: [{tool: pay, effect: allow, priority: 100}]", narrowing=True)
    v = decide(base, Call("pay", {}), Context(), [overlay])
    assert (v.verdict, v.rule) == ("block", "no-pay")


def test_a_narrowing_rewrite_must_still_satisfy_the_policy():
    base = policy("  - {tool: pay, effect: allow, when: {amount: {maximum: 100}}}")
    overlay = compile_policy(
        "rules:\n  - tool: pay\n    effect: allow\n    when: {amount: {maximum: 10}}\n"
        "    fallback: {action: rewrite, set: {amount: 500}}", narrowing=True)
    assert decide(base, Call("pay", {"amount": 50}), Context(), [overlay]).verdict == "block"


def test_a_narrowing_rewrite_within_the_policy_stands():
    base = policy("  - {tool: pay, effect: allow, when: {amount: {maximum: 100}}}")
    overlay = compile_policy(
        "rules:\n  - tool: pay\n    effect: allow\n    when: {amount: {maximum: 10}}\n"
        "    fallback: {action: rewrite, clamp: {amount: {maximum: 10}}}", narrowing=True)
    v = decide(base, Call("pay", {"amount": 50}), Context(), [overlay])
    assert (v.verdict, v.arguments) == ("rewrite", {"amount": 10})


def test_an_unknown_top_level_key_is_an_error():
    with pytest.raises(PolicyError):
        compile_policy("name: x\nrule: []")
