from datetime import timedelta

import pytest
from django.utils import timezone

from apps.tenancy import services
from apps.tenancy.models import ApiKey, hash_key

pytestmark = pytest.mark.django_db


def test_api_key_is_stored_hashed_with_only_prefix_in_clear(project):
    key, raw = services.api_key_create(project=project, name="runtime", scopes=["ingest"])
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.hashed, stored.prefix, stored.name)
    assert stored.hashed == hash_key(raw)
    assert raw.startswith(f"wdn_{stored.prefix}_")


def test_whoami_reports_project_and_scopes(project, make_key, api):
    response = api(make_key(project, scopes=["read", "decide"])).get("/api/v1/whoami")
    assert response.status_code == 200
    assert response.json()["project"] == "acme"
    assert response.json()["scopes"] == ["decide", "read"]


def test_request_without_key_is_refused_with_401(api):
    response = api().get("/api/v1/whoami")
    assert response.status_code == 401
    assert "error" in response.json()


def test_unknown_key_is_refused(project, make_key, api):
    raw = make_key(project)
    tampered = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    response = api(tampered).get("/api/v1/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Unknown API key."


def test_malformed_authorization_header_is_refused(api):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token abc")
    assert client.get("/api/v1/whoami").status_code == 401


def test_expired_key_is_refused(project, api):
    key, raw = services.api_key_create(
        project=project, name="old", scopes=["read"], expires_at=timezone.now() + timedelta(seconds=60)
    )
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api(raw).get("/api/v1/whoami")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_revoked_key_is_refused_at_once(project, admin, api):
    key, raw = services.api_key_create(project=project, name="r", scopes=["read"])
    assert api(raw).get("/api/v1/whoami").status_code == 200
    services.api_key_revoke(key=key, actor=admin.username)
    response = api(raw).get("/api/v1/whoami")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_using_a_key_records_last_used_time(project, make_key, api):
    raw = make_key(project)
    assert ApiKey.objects.get().last_used_at is None
    api(raw).get("/api/v1/whoami")
    assert ApiKey.objects.get().last_used_at is not None


def test_key_creation_rejects_unknown_scope_naming_the_field(project):
    with pytest.raises(Exception) as exc:
        services.api_key_create(project=project, name="x", scopes=["root"])
    assert "scopes" in exc.value.message_dict


def test_key_creation_rejects_expiry_in_the_past(project):
    with pytest.raises(Exception) as exc:
        services.api_key_create(
            project=project, name="x", scopes=["read"], expires_at=timezone.now() - timedelta(days=1)
        )
    assert "expires_at" in exc.value.message_dict


def test_key_creation_and_revocation_are_governance_log_events(project, admin):
    from apps.audit.models import GovernanceLogEntry

    key, _ = services.api_key_create(project=project, name="r", scopes=["read"], actor=admin)
    services.api_key_revoke(key=key, actor=admin.username)
    events = list(GovernanceLogEntry.objects.filter(project=project).values_list("event", flat=True))
    assert events == ["api_key.created", "api_key.revoked"]
