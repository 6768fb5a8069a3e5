"""Fixtures for governance tests: /decide under a small market policy."""

import pytest

from apps.policies import services as policy_services

POLICY = """
name: market
default: block
rules:
  - id: reads
    tool: "read_*"
    effect: allow
  - id: produce
    tool: produce
    effect: allow
"""


@pytest.fixture
def decide(api, make_key, project, admin):
    """decide(tool, agent=, arguments=) -> the /decide JSON body, under POLICY."""
    policy_services.policy_publish(project=project, source=POLICY, actor=admin)
    client = api(make_key(project, scopes=["decide"]))

    def call(tool, agent="trader", arguments=None):
        body = {"episode": "ep-1", "agent": agent, "tool": tool, "arguments": arguments or {}}
        return client.post("/api/v1/decide", body, format="json").json()

    return call
