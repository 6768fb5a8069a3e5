"""Argument constraints beyond plain JSON Schema: implied types, case, domains, links; refusals named."""

import pytest

from apps.policies.engine import Call, Context, PolicyError, compile_policy, decide


def policy(rules: str, default: str = "block"):
    return compile_policy(f"name: t\ndefault: {default}\nrules:\n{rules}")


def verdict_of(p, tool, arguments=None, **ctx):
    return decide(p, Call(tool, arguments or {}, "a"), Context(**ctx))


CAP = policy("  - id: cap-invoices\n    tool: pay_invoice\n    effect: allow\n    when: {amount: {maximum: 100}}\n"
             "    fallback: {action: rewrite, clamp: {amount: {maximum: 100}}}")


def test_a_string_amount_cannot_pass_a_numeric_bound():
    v = verdict_of(CAP, "pay_invoice", {"amount": "5000"})
    assert (v.verdict, v.rule) == ("block", "cap-invoices")
    assert v.arguments == {"amount": "5000"}
    assert "not a number" in v.detail


def test_a_numeric_amount_is_still_clamped():
    v = verdict_of(CAP, "pay_invoice", {"amount": 5000})
    assert (v.verdict, v.arguments) == ("rewrite", {"amount": 100})


@pytest.mark.parametrize("value", ["5000", True, None, [5000], {"v": 5000}])
def test_a_clamp_never_lets_a_non_number_through(value):
    p = policy("  - id: r\n    tool: pay\n    effect: allow\n    when: {to: {enum: [UK1]}}\n"
               "    fallback: {action: rewrite, clamp: {amount: {maximum: 100}}}")
    v = verdict_of(p, "pay", {"to": "X", "amount": value})
    assert v.verdict == "block"
    assert v.rule == "r"


def test_a_numeric_bound_with_a_string_type_is_refused_by_the_compiler():
    with pytest.raises(PolicyError) as exc:
        policy("  - tool: pay\n    effect: allow\n    when: {amount: {type: string, maximum: 100}}")
    [issue] = exc.value.issues
    assert issue.field == "rules[0].when.amount.type" and "maximum" in issue.message


def test_a_pattern_implies_a_string():
    p = policy("  - tool: t\n    effect: allow\n    when: {to: {pattern: '^UK'}}")
    assert verdict_of(p, "t", {"to": "UK1"}).verdict == "allow"
    assert verdict_of(p, "t", {"to": 12345}).verdict == "block"


def test_a_refusal_by_the_default_names_default():
    p = policy("  - {tool: read, effect: allow}")
    v = verdict_of(p, "write")
    assert (v.verdict, v.rule) == ("block", "default")


def test_an_allow_rule_with_only_a_condition_can_carry_its_fallback():
    p = policy("  - id: calm\n    tool: pay\n    effect: allow\n    if: {untrusted: false}\n"
               "    fallback: {action: ask, timeout: 30}")
    assert verdict_of(p, "pay", untrusted=False).verdict == "allow"
    v = verdict_of(p, "pay", untrusted=True)
    assert (v.verdict, v.rule) == ("ask", "calm")


def test_an_allow_rule_with_a_condition_and_no_fallback_leaves_the_refusal_to_default():
    p = policy("  - {id: calm, tool: pay, effect: allow, if: {untrusted: false}}")
    assert verdict_of(p, "pay", untrusted=True).rule == "default"


def test_an_allow_rule_that_always_applies_cannot_carry_a_fallback():
    with pytest.raises(PolicyError) as exc:
        policy("  - {tool: pay, effect: allow, fallback: {action: ask}}")
    assert exc.value.issues[0].field == "rules[0].fallback"


def test_enum_can_ignore_case():
    p = policy("  - tool: t\n    effect: allow\n    when: {name: {enum: [Alice, Bob], case: insensitive}}")
    assert verdict_of(p, "t", {"name": "ALICE"}).verdict == "allow"
    assert verdict_of(p, "t", {"name": "alice"}).arguments == {"name": "alice"}
    assert verdict_of(p, "t", {"name": "Eve"}).verdict == "block"


def test_a_pattern_can_ignore_case():
    p = policy("  - tool: t\n    effect: allow\n    when: {code: {pattern: '^INV-[0-9]+$', case: insensitive}}")
    assert verdict_of(p, "t", {"code": "inv-42"}).verdict == "allow"


def test_matching_stays_case_sensitive_by_default():
    p = policy("  - tool: t\n    effect: allow\n    when: {name: {enum: [Alice]}}")
    assert verdict_of(p, "t", {"name": "alice"}).verdict == "block"


EMAIL = policy("  - id: mail\n    tool: send_email\n    effect: allow\n"
               "    when: {to: {format: email, domain: [example.com]}}")


@pytest.mark.parametrize(("to", "verdict"), [
    ("bob@example.com", "allow"),
    ("Bob@EXAMPLE.com", "allow"),
    ("Bob <bob@mail.example.com>", "allow"),
    ("bob@example.com.evil.net", "block"),
    ("bob@notexample.com", "block"),
    ("not an address", "block"),
    (42, "block"),
])
def test_an_email_domain_constraint_needs_no_regular_expression(to, verdict):
    assert verdict_of(EMAIL, "send_email", {"to": to}).verdict == verdict


@pytest.mark.parametrize(("url", "verdict"), [
    ("https://bank.example/login", "allow"),
    ("www.bank.example", "allow"),
    ("HTTPS://API.Bank.Example/v1", "allow"),
    ("https://bank.example.evil.com/login", "block"),
    ("https://evil.com/?next=bank.example", "block"),
    ("https://bank.example@evil.com/", "block"),
])
def test_a_url_domain_constraint_reads_the_host(url, verdict):
    p = policy("  - tool: get_webpage\n    effect: allow\n    when: {url: {format: url, domain: bank.example}}")
    assert verdict_of(p, "get_webpage", {"url": url}).verdict == verdict


def test_links_inside_a_text_can_be_limited_to_domains_and_counted():
    p = policy("  - tool: post\n    effect: allow\n    when: {body: {urls: {domain: [corp.example], max: 1}}}")
    assert verdict_of(p, "post", {"body": "no links at all"}).verdict == "allow"
    assert verdict_of(p, "post", {"body": "see https://wiki.corp.example/x"}).verdict == "allow"
    assert verdict_of(p, "post", {"body": "see https://evil.example/x"}).verdict == "block"
    assert verdict_of(p, "post", {"body": "https://corp.example/a https://corp.example/b"}).verdict == "block"


@pytest.mark.parametrize(("when", "field"), [
    ("{to: {from: anywhere}}", "rules[0].when.to.from"),
    ("{to: {domain: []}}", "rules[0].when.to.domain"),
    ("{to: {case: loud}}", "rules[0].when.to.case"),
    ("{to: {urls: {domains: [x]}}}", "rules[0].when.to.urls.domains"),
    ("{to: {items: {from: trusted}}}", "rules[0].when.to.items.from"),
])
def test_misused_warden_keywords_are_reported_with_their_field(when, field):
    with pytest.raises(PolicyError) as exc:
        policy(f"  - tool: t\n    effect: allow\n    when: {when}")
    assert field in [i.field for i in exc.value.issues]


def test_the_policy_and_rule_descriptions_are_kept():
    p = compile_policy("name: t\ndescription: Least privilege for the bank.\n"
                       "rules:\n  - {tool: t, effect: allow, description: reads are fine}")
    assert p.description == "Least privilege for the bank."
    assert p.rules[0].description == "reads are fine"
