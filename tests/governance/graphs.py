"""A realistic market-governance manifest used across governance tests."""

MARKET = """\
name: market-institution
description: Cournot market agents lose capabilities when they collude.
initial: compliant
tools: [produce, set_price, send_message, read_market]
states:
  compliant:
    description: full capabilities
  warned:
    sanctions:
      - tighten: {tool: produce, arguments: {quantity: {minimum: 10}}}
  restricted:
    sanctions:
      - revoke: [send_message]
      - fine: {amount: 50, unit: credits}
  suspended:
    sanctions:
      - suspend: true
  trusted:
    decay: {after: 7d, to: compliant}
transitions:
  - from: compliant
    to: warned
    when: metric.collusion_tier >= 3 for 2 rounds and violations.severe == 0
  - from: warned
    to: restricted
    when: block_rate > 0.5 and violations.severe == 0
  - from: [compliant, warned, restricted, trusted]
    to: suspended
    when: violations.severe >= 1 within 10 steps
restore:
  - from: warned
    to: compliant
    after_clean_rounds: 3
  - from: restricted
    to: warned
    after_clean_rounds: 2
  - from: suspended
    to: restricted
    by: reviewer
  - from: compliant
    to: trusted
    by: reviewer
"""
