"""The episode list: latency, tokens, cost, decisions and violations columns, sorting, saved views."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.traces import services
from apps.traces.models import Episode, SavedView

pytestmark = pytest.mark.django_db


def _episode(project, external_id, *, tokens=0, cost=None, decisions=0, seconds=None, minutes_ago=0, **fields):
    started = timezone.now() - timedelta(minutes=minutes_ago)
    episode, _ = services.episode_upsert(project=project, external_id=external_id, started_at=started, **fields)
    steps = [{"kind": "message", "agent": "bot", "role": "assistant", "content": "hi", "tokens_in": tokens,
              "tokens_out": 0, "cost": cost}]
    steps += [{"kind": "decision", "actor": "governance", "tool": "t", "attributes": {"verdict": "block"}}] * decisions
    services.steps_append_batch(episode=episode, steps=steps)
    if seconds is not None:
        Episode.objects.filter(pk=episode.pk).update(ended_at=started + timedelta(seconds=seconds), status="completed")
    return episode


def _order(body):
    return re.findall(r'<a href="/p/acme/traces/e/\d+/">([^<]+)</a>', body)


@pytest.fixture
def three(project):
    _episode(project, "cheap", tokens=10, cost="0.01", decisions=2, seconds=9, minutes_ago=3)
    _episode(project, "pricey", tokens=900, cost="1.50", decisions=0, seconds=1, minutes_ago=2)
    _episode(project, "middle", tokens=100, cost="0.20", decisions=5, minutes_ago=1)


def test_the_list_shows_latency_tokens_cost_and_decisions(login, viewer, project, three):
    body = login(viewer).get("/p/acme/traces/").content.decode()
    row = body[body.index(">cheap<"):].split("</tr>")[0]
    assert "9.00 s" in row and ">10<" in row and "$0.01" in row and '<td class="num">2</td>' in row


@pytest.mark.parametrize(("sort", "expected"), [
    ("", ["middle", "pricey", "cheap"]),
    ("started", ["cheap", "pricey", "middle"]),
    ("-tokens", ["pricey", "middle", "cheap"]),
    ("cost", ["cheap", "middle", "pricey"]),
    ("-decisions", ["middle", "cheap", "pricey"]),
    ("-duration", ["cheap", "pricey", "middle"]),  # a running episode has no latency: last
])
def test_every_sortable_column_sorts(login, viewer, project, three, sort, expected):
    assert _order(login(viewer).get("/p/acme/traces/", {"sort": sort}).content.decode()) == expected


def test_the_active_sort_is_marked_and_its_heading_flips_the_direction(login, viewer, project, three):
    body = login(viewer).get("/p/acme/traces/", {"sort": "-tokens", "agent": "bot"}).content.decode()
    assert 'aria-sort="descending"' in body
    assert "?sort=tokens&amp;agent=bot" in body


def test_a_bad_sort_is_an_error_naming_the_field(login, viewer, project, three):
    body = login(viewer).get("/p/acme/traces/", {"sort": "mood"}).content.decode()
    assert 'role="alert"' in body and "sort" in body


def test_filter_by_session(login, viewer, project):
    _episode(project, "turn-1", session="chat-1")
    _episode(project, "turn-2", session="chat-2")
    assert _order(login(viewer).get("/p/acme/traces/", {"session": "chat-1"}).content.decode()) == ["turn-1"]


def test_pages_are_labelled_previous_and_next(login, viewer, project):
    for i in range(51):
        services.episode_upsert(project=project, external_id=f"e{i}")
    body = login(viewer).get("/p/acme/traces/", {"page": 2}).content.decode()
    assert "← Previous" in body and "Page 2 of 2 · 51 episodes" in body


def test_a_saved_view_keeps_filters_and_sort_for_its_owner_only(login, viewer, reviewer, project, three):
    client = login(viewer)
    response = client.post("/p/acme/traces/views/", {"name": "Costly", "query": "sort=-cost&agent=bot&page=3"})
    assert response.status_code == 302
    view = SavedView.objects.get(user=viewer)
    assert (view.name, view.query) == ("Costly", "sort=-cost&agent=bot")
    assert 'href="?sort=-cost&amp;agent=bot"' in client.get("/p/acme/traces/").content.decode()
    assert "Costly" not in login(reviewer).get("/p/acme/traces/").content.decode()


def test_saving_a_view_under_its_name_again_replaces_it(login, viewer, project):
    client = login(viewer)
    client.post("/p/acme/traces/views/", {"name": "Mine", "query": "status=failed"})
    client.post("/p/acme/traces/views/", {"name": "Mine", "query": "status=completed"})
    assert list(SavedView.objects.values_list("query", flat=True)) == ["status=completed"]


def test_a_view_without_a_name_is_a_400_naming_the_field(login, viewer, project):
    response = login(viewer).post("/p/acme/traces/views/", {"name": " ", "query": "status=failed"})
    assert response.status_code == 400 and b"name" in response.content


def test_only_the_owner_deletes_a_view(login, viewer, reviewer, project):
    login(viewer).post("/p/acme/traces/views/", {"name": "Mine", "query": "status=failed"})
    view = SavedView.objects.get()
    assert login(reviewer).post(f"/p/acme/traces/views/{view.pk}/delete").status_code == 404
    assert login(viewer).post(f"/p/acme/traces/views/{view.pk}/delete").status_code == 302
    assert not SavedView.objects.exists()


def test_an_outsider_cannot_save_views_in_the_project(login, outsider, project):
    assert login(outsider).post("/p/acme/traces/views/", {"name": "x", "query": ""}).status_code == 404
