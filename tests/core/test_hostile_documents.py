"""Hostile YAML on every endpoint and editor that parses it: a fast 400 naming the field, nothing written.

The loader refuses (apps/core/documents): alias bombs, deep nesting, non-JSON tags, .inf/.nan,
control characters; patterns RE2 cannot run are refused at compile time, and the ones it can run
are run in linear time.
"""

import pytest

from apps.audit.models import GovernanceLogEntry
from apps.contracts.models import ContractVersion, WhatIfJob
from apps.governance.models import GraphVersion
from apps.policies.models import EpisodeGuard, PolicyVersion
from apps.traces.models import Episode
from tests.core.test_documents import billion_laughs

pytestmark = pytest.mark.django_db

POLICY = "name: p\nrules:\n  - tool: pay\n    effect: allow\n    when: {amount: {maximum: 10}}\n"
CONTRACT = "name: c\nrules:\n  - never: {tool: delete}\n"
GRAPH = "name: g\ninitial: ok\nstates:\n  ok: {}\ntransitions: []\n"

HOSTILE = {
    "alias bomb": lambda base: base + billion_laughs().replace("a0:", "x0:", 1).replace("\na", "\nx"),
    "deep nesting": lambda base: base + "deep: " + "[" * 1000 + "]" * 1000 + "\n",
    "python tag": lambda base: base + "hook: !!python/name:os.system x\n",
    "infinite number": lambda base: base + "big: .inf\n",
    "control character": lambda base: base + "note: a\x1bb\n",
}

# endpoint, body key holding the YAML, valid base document, scope, field named in the 400
ENDPOINTS = [
    ("/api/v1/policies/publish", "source", POLICY, "admin", "source"),
    ("/api/v1/narrow", "policy", POLICY.replace("name: p\n", ""), "decide", "policy"),
    ("/api/v1/contracts", "source", CONTRACT, "admin", "source"),
    ("/api/v1/contracts/validate", "source", CONTRACT, "admin", "source"),
    ("/api/v1/governance/graphs/publish", "source", GRAPH, "admin", "source"),
    ("/api/v1/contracts/whatif", "source", CONTRACT, "admin", "source"),
]


def written() -> tuple[int, ...]:
    return (PolicyVersion.objects.count(), EpisodeGuard.objects.count(), Episode.objects.count(),
            ContractVersion.objects.count(), GraphVersion.objects.count(), WhatIfJob.objects.count(),
            GovernanceLogEntry.objects.count())


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize(("url", "key", "base", "scope", "field"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_hostile_yaml_is_a_400_naming_the_field_and_writes_nothing(project, make_key, api, url, key, base,
                                                                     scope, field, kind):
    body = {key: HOSTILE[kind](base)}
    if url == "/api/v1/narrow":
        body["episode"] = "ep-1"
    client = api(make_key(project, [scope]))
    before = written()
    response = client.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert "line" in response.json()["error"]["message"]
    assert written() == before


def test_the_base_documents_of_these_tests_are_accepted(project, make_key, api):
    client = api(make_key(project, ["admin", "decide"]))
    for url, key, base, _scope, _field in ENDPOINTS:
        body = {key: base, **({"episode": "ep-1"} if url == "/api/v1/narrow" else {})}
        assert client.post(url, body, format="json").status_code in (200, 201, 202), url


def test_a_policy_what_if_refuses_an_alias_bomb(project, make_key, api):
    body = {"kind": "policy", "source": HOSTILE["alias bomb"](POLICY)}
    response = api(make_key(project, ["admin"])).post("/api/v1/contracts/whatif", body, format="json")
    assert response.status_code == 400 and "source" in response.json()["error"]["fields"]
    assert not WhatIfJob.objects.exists()


@pytest.mark.parametrize("maximum", [".inf", "-.inf", ".nan"])
def test_a_policy_maximum_of_inf_or_nan_is_refused_at_publish(project, make_key, api, maximum):
    source = POLICY.replace("maximum: 10", f"maximum: {maximum}")
    response = api(make_key(project, ["admin"])).post("/api/v1/policies/publish", {"source": source}, format="json")
    assert response.status_code == 400
    assert "rules[0].when.amount.maximum" in response.json()["error"]["message"]
    assert not PolicyVersion.objects.exists()


def test_a_policy_pattern_re2_cannot_run_is_refused_at_publish_naming_the_field(project, make_key, api):
    source = POLICY.replace("{maximum: 10}", r"{type: string, pattern: '^(a)\1$'}")
    response = api(make_key(project, ["admin"])).post("/api/v1/policies/publish", {"source": source}, format="json")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "rules[0].when.amount.pattern" in message and "regular expression" in message
    assert not PolicyVersion.objects.exists()


def test_a_catastrophic_policy_pattern_decides_a_50000_character_argument(project, make_key, api):
    source = POLICY.replace("{maximum: 10}", "{type: string, pattern: '^(a+)+$'}")
    client = api(make_key(project, ["admin", "decide"]))
    assert client.post("/api/v1/policies/publish", {"source": source}, format="json").status_code == 201
    call = {"episode": "ep-1", "tool": "pay", "arguments": {"amount": "a" * 50_000 + "b"}}
    response = client.post("/api/v1/decide", call, format="json")
    assert response.status_code == 200 and response.json()["verdict"] == "block"
    call["arguments"]["amount"] = "a" * 50_000
    assert client.post("/api/v1/decide", call, format="json").json()["verdict"] == "allow"


def test_a_contract_regex_re2_cannot_run_is_refused_naming_the_field(project, make_key, api):
    source = "name: c\nrules:\n  - never: {tool: send, args: {to: {regex: '(?<=x)y'}}}\n"
    response = api(make_key(project, ["admin"])).post("/api/v1/contracts", {"source": source}, format="json")
    assert response.status_code == 400
    assert "rules[0].never.args.to.regex" in response.json()["error"]["message"]
    assert not ContractVersion.objects.exists()


def test_a_contract_with_a_key_written_twice_is_refused(project, make_key, api):
    source = "name: c\nrules:\n  - never: {tool: delete}\n    never: {tool: drop}\n"
    response = api(make_key(project, ["admin"])).post("/api/v1/contracts", {"source": source}, format="json")
    assert response.status_code == 400
    assert "duplicate key 'never'" in response.json()["error"]["message"]
    assert not ContractVersion.objects.exists()


def test_a_graph_tightening_with_a_pattern_re2_cannot_run_is_refused(project, make_key, api):
    source = GRAPH.replace("ok: {}", r"ok: {sanctions: [{tighten: {tool: t, arguments: {a: {pattern: '(x)\1'}}}}]}")
    response = api(make_key(project, ["admin"])).post("/api/v1/governance/graphs/publish", {"source": source},
                                                      format="json")
    assert response.status_code == 400 and "pattern" in response.json()["error"]["message"]
    assert not GraphVersion.objects.exists()


@pytest.mark.parametrize("page", ["policies/new/", "governance/graphs/", "contracts/"])
def test_the_editors_answer_an_alias_bomb_with_its_line_and_publish_nothing(project, admin, login, page):
    base = {"policies/new/": POLICY, "governance/graphs/": GRAPH, "contracts/": CONTRACT}[page]
    data = {"source": HOSTILE["alias bomb"](base), "action": "check"}
    before = written()
    response = login(admin).post(f"/p/acme/{page}", data, headers={"HX-Request": "true"})
    assert response.status_code in (200, 400)
    assert b"counting what aliases repeat" in response.content
    assert written() == before
