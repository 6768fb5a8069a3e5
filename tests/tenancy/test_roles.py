"""Each role's allowed and refused pages; outsiders see nothing of another project."""

import pytest

from apps.tenancy.models import ApiKey, Membership

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client, project):
    response = client.get("/p/acme/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_renders(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Log in to Warden" in response.content


def test_login_with_password_reaches_project_page(client, admin):
    response = client.post("/login/", {"username": "alice", "password": "pw-for-tests"}, follow=True)
    assert response.redirect_chain[-1][0] == "/p/acme/"
    assert b"Acme" in response.content


def test_viewer_sees_project_but_not_admin_pages(login, viewer):
    client = login(viewer)
    assert client.get("/p/acme/").status_code == 200
    assert client.get("/p/acme/members/").status_code == 403
    assert client.get("/p/acme/keys/").status_code == 403


def test_reviewer_cannot_create_keys(login, reviewer, project):
    response = login(reviewer).post("/p/acme/keys/", {"name": "x", "scopes": ["read"]})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_outsider_gets_404_for_another_projects_pages(login, outsider, project):
    client = login(outsider)
    assert client.get("/p/acme/").status_code == 404
    assert client.get("/p/acme/keys/").status_code == 404


def test_admin_creates_key_and_sees_it_once(login, admin):
    client = login(admin)
    response = client.post("/p/acme/keys/", {"name": "runtime", "scopes": ["ingest", "decide"]})
    assert response.status_code == 200
    key = ApiKey.objects.get()
    assert f"wdn_{key.prefix}_".encode() in response.content
    again = client.get("/p/acme/keys/")
    assert f"wdn_{key.prefix}_…".encode() in again.content
    assert b'id="new-key"' not in again.content


def test_key_form_without_scopes_names_the_field(login, admin):
    response = login(admin).post("/p/acme/keys/", {"name": "runtime"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert not ApiKey.objects.exists()


def test_htmx_request_returns_only_the_fragment(login, admin):
    response = login(admin).get("/p/acme/keys/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="keys"' in response.content


def test_admin_revokes_key_through_htmx(login, admin, project, make_key):
    make_key(project)
    key = ApiKey.objects.get()
    response = login(admin).post(f"/p/acme/keys/{key.id}/revoke/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"revoked" in response.content
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_admin_cannot_revoke_another_projects_key(login, admin, other_project, make_key):
    make_key(other_project)
    key = ApiKey.objects.get()
    assert login(admin).post(f"/p/acme/keys/{key.id}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_admin_adds_member_with_role(login, admin, outsider):
    response = login(admin).post("/p/acme/members/", {"username": "oscar", "role": "reviewer"},
                                 headers={"HX-Request": "true"})
    assert response.status_code == 200 and b"Invited oscar as reviewer" in response.content
    login(outsider).get("/")  # an invitation is accepted when its account next opens Warden
    assert Membership.objects.get(user=outsider, project__slug="acme").role == "reviewer"


def test_adding_an_unknown_user_is_an_invitation_like_any_other(login, admin):
    response = login(admin).post("/p/acme/members/", {"username": "nobody", "role": "viewer"},
                                 headers={"HX-Request": "true"})
    assert b"Invited nobody as viewer" in response.content and b"No user named" not in response.content


def test_last_admin_cannot_be_removed(login, admin):
    membership = Membership.objects.get(user=admin)
    response = login(admin).post(f"/p/acme/members/{membership.id}/remove/", headers={"HX-Request": "true"})
    assert b"at least one admin" in response.content
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_project_switcher_lists_only_my_projects(login, admin, other_project):
    response = login(admin).get("/p/acme/")
    assert b"Acme (admin)" in response.content
    assert b"Globex" not in response.content
