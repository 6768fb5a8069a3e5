"""Adding a member is an invitation: the answer is the same whether or not the username exists, on
the Members page and over the API; the account becomes a member when it signs in."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.tenancy.models import Invitation, Membership
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()


def _add(client, username: str, role: str = "reviewer"):
    return client.post("/p/acme/members/", {"username": username, "role": role}, headers={"HX-Request": "true"})


def test_inviting_an_existing_and_an_unknown_username_answer_alike_on_the_page(login, admin, outsider):
    User.objects.create_user("ghost-1", password=PASSWORD)
    client = login(admin)
    answers = []
    for username in ("ghost-1", "ghost-2"):
        response = _add(client, username)
        assert response.status_code == 200
        answers.append(re.sub(r"invitations/\d+/", "invitations/N/", response.content.decode().replace(username, "X")))
        Invitation.objects.all().delete()
    assert answers[0] == answers[1]
    assert "Invited X as reviewer" in answers[0]
    assert not Membership.objects.filter(user__username="ghost-1", project__slug="acme").exists()


def test_inviting_answers_alike_over_the_api(project, make_key, api, outsider):
    client = api(make_key(project, scopes=["admin"]))
    existing = client.post("/api/v1/members", {"username": "oscar", "role": "viewer"}, format="json")
    unknown = client.post("/api/v1/members", {"username": "nobody", "role": "viewer"}, format="json")
    assert existing.status_code == unknown.status_code == 202
    assert {k: v for k, v in existing.json().items() if k != "username"} == \
        {k: v for k, v in unknown.json().items() if k != "username"}
    assert existing.json()["status"] == "invited"


def test_the_api_needs_an_admin_key_and_names_a_bad_role(project, make_key, api):
    reader = api(make_key(project, scopes=["read"]))
    assert reader.post("/api/v1/members", {"username": "x", "role": "viewer"}, format="json").status_code == 403
    admin_key = api(make_key(project, scopes=["admin"]))
    bad = admin_key.post("/api/v1/members", {"username": "x", "role": "owner"}, format="json")
    assert bad.status_code == 400 and "role" in bad.json()["error"]["fields"]


def test_an_invited_account_becomes_a_member_when_it_signs_in(login, admin, outsider):
    _add(login(admin), "oscar", "reviewer")
    client = Client()
    assert client.post("/login/", {"username": "oscar", "password": PASSWORD}).status_code == 302
    assert Membership.objects.get(user=outsider, project__slug="acme").role == "reviewer"
    assert not Invitation.objects.exists()


def test_an_account_made_later_under_an_invited_name_joins_when_it_signs_in(login, admin):
    _add(login(admin), "newcomer", "viewer")
    User.objects.create_user("newcomer", password=PASSWORD)
    Client().post("/login/", {"username": "newcomer", "password": PASSWORD})
    assert Membership.objects.get(user__username="newcomer", project__slug="acme").role == "viewer"


def test_changing_a_members_role_is_immediate(login, admin, reviewer):
    _add(login(admin), "rita", "admin")
    assert Membership.objects.get(user=reviewer).role == "admin"
    assert not Invitation.objects.exists()


def test_an_invitation_can_be_withdrawn(login, admin):
    client = login(admin)
    _add(client, "nobody")
    invitation = Invitation.objects.get()
    response = client.post(f"/p/acme/members/invitations/{invitation.pk}/withdraw/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and not Invitation.objects.exists()


def test_the_api_lists_members_and_invitations(project, make_key, api, admin):
    client = api(make_key(project, scopes=["admin"]))
    client.post("/api/v1/members", {"username": "nobody", "role": "viewer"}, format="json")
    listed = client.get("/api/v1/members").json()
    assert {"username": "alice", "role": "admin", "status": "member"} in listed["results"]
    assert {"username": "nobody", "role": "viewer", "status": "invited"} in listed["results"]
