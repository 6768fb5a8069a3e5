"""Search: the episode list finds words in tool arguments and results; filters inside one episode."""

import pytest

from apps.traces import services
from tests.traces.builders import IBAN, injected_episode

pytestmark = pytest.mark.django_db



def _injected(project):
    episode = injected_episode(project)
    services.episode_upsert(project=project, external_id="other", agents=["clerk"])
    return episode


def test_the_episode_list_finds_an_iban_that_only_tool_arguments_and_results_carry(login, viewer, project):
    _injected(project)
    body = login(viewer).get("/p/acme/traces/", {"q": IBAN}).content.decode()
    assert "fees" in body and "other" not in body


def test_the_episode_list_finds_words_of_a_tool_result(login, viewer, project):
    _injected(project)
    assert "fees" in login(viewer).get("/p/acme/traces/", {"q": "wire balance"}).content.decode()


def _ids(body):
    import re
    return [int(i) for i in re.findall(r'id="step-(\d+)"', body)]


@pytest.mark.parametrize(("params", "expected"), [
    ({"q": IBAN}, [2, 3]),
    ({"kind": "decision"}, [4]),
    ({"tool": "send_money"}, [3, 4, 5]),
    ({"agent": "banker"}, [1, 3, 4]),
    ({"untrusted": "true"}, [2]),
    ({"errors": "true"}, [5]),
    ({"decision": "block"}, [4]),
    ({"decision": "allow"}, []),
    ({"tool": "send_money", "errors": "true"}, [5]),
])
def test_filters_inside_an_episode_show_only_matching_steps(login, viewer, project, params, expected):
    episode = _injected(project)
    body = login(viewer).get(f"/p/acme/traces/e/{episode.pk}/", params).content.decode()
    assert _ids(body) == expected


def test_an_episode_filter_as_htmx_returns_the_step_list_only(login, viewer, project):
    episode = _injected(project)
    response = login(viewer).get(f"/p/acme/traces/e/{episode.pk}/", {"kind": "action", "partial": "steps"},
                                 headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'id="step-list"' in body and _ids(body) == [1, 3]


@pytest.mark.parametrize(("params", "field"), [({"kind": "thought"}, "kind"), ({"untrusted": "maybe"}, "untrusted"),
                                               ({"decision": "perhaps"}, "decision"), ({"q": "x" * 501}, "q")])
def test_a_bad_episode_filter_is_an_error_naming_the_field(login, viewer, project, params, field):
    episode = _injected(project)
    body = login(viewer).get(f"/p/acme/traces/e/{episode.pk}/", params).content.decode()
    assert 'role="alert"' in body and field in body


def test_filtered_steps_load_further_chunks_with_the_same_filter(login, viewer, project):
    episode, _ = services.episode_upsert(project=project, external_id="long")
    services.steps_append_batch(episode=episode, steps=[
        {"kind": "action" if i % 2 else "message", "tool": "t" if i % 2 else "", "content": f"s{i}"} for i in range(500)])
    client = login(viewer)
    body = client.get(f"/p/acme/traces/e/{episode.pk}/", {"kind": "action"}).content.decode()
    assert len(_ids(body)) == 100 and "from=200" in body and "kind=action" in body
    more = client.get(f"/p/acme/traces/e/{episode.pk}/steps", {"from": 400, "kind": "action"}).content.decode()
    assert _ids(more) == list(range(401, 500, 2))
