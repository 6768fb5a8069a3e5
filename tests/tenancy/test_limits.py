"""Login lockout and per-API-key rate limits (apps/tenancy/limits.py)."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.tenancy import limits
from apps.tenancy.models import LoginFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# A day-long window: a test never straddles two windows (they start at midnight UTC).
TIGHT = "3/86400"


def _login(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _signed_in(response) -> bool:
    return response.status_code == 302


def test_five_wrong_passwords_lock_the_username_from_that_address_even_for_the_right_one(admin, caplog):
    client = Client()
    for _ in range(4):
        assert "Too many" not in _login(client, "alice", "wrong").content.decode()
    with caplog.at_level("WARNING", logger="warden.security"):
        fifth = _login(client, "alice", "wrong")
        right = _login(client, "alice", PASSWORD)
    assert "Too many failed sign-ins" in fifth.content.decode()
    assert not _signed_in(right)
    assert "locked for 15 more minutes" in right.content.decode()
    messages = [r.getMessage() for r in caplog.records]
    assert any("locked for" in m and "'alice'" in m for m in messages)
    assert any("refused while locked" in m for m in messages)


def test_a_lock_holds_only_for_that_username_and_address(admin, reviewer):
    client = Client()
    for _ in range(5):
        _login(client, "alice", "wrong")
    assert _signed_in(_login(Client(), "alice", PASSWORD, address="10.0.0.2"))
    assert _signed_in(_login(Client(), "rita", PASSWORD))


def test_the_lock_ends_when_the_failures_leave_the_window(admin):
    client = Client()
    for _ in range(5):
        _login(client, "alice", "wrong")
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    assert _signed_in(_login(client, "alice", PASSWORD))


def test_a_successful_sign_in_forgets_earlier_failures(admin):
    client = Client()
    for _ in range(4):
        _login(client, "alice", "wrong")
    assert _signed_in(_login(client, "alice", PASSWORD))
    assert not LoginFailure.objects.exists()
    assert "Too many" not in _login(Client(), "alice", "wrong").content.decode()


def test_the_lockout_is_configurable(admin, settings):
    settings.WARDEN_LOGIN_MAX_FAILURES = 2
    client = Client()
    _login(client, "alice", "wrong")
    assert "Too many" in _login(client, "alice", "wrong").content.decode()


@pytest.fixture
def fresh_counters():
    """Counters of this test database's keys from earlier sessions are gone (key ids repeat)."""
    client = redis.Redis.from_url(django_settings.WARDEN_RATE_LIMIT_REDIS_URL)
    pattern = f"warden:ratelimit:{connection.settings_dict['NAME']}:*"
    try:
        for name in client.scan_iter(pattern):
            client.delete(name)
    except redis.RedisError:
        pytest.skip("these tests count in Redis, which is not running")
    limits._redis_down_until = 0.0
    yield
    limits._redis_down_until = 0.0


def test_a_key_over_its_rate_is_refused_with_429_and_retry_after(project, make_key, api, settings, fresh_counters):
    settings.WARDEN_API_RATE_LIMIT = TIGHT
    client = api(make_key(project, scopes=["read"]))
    assert [client.get("/api/v1/whoami").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/whoami")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 86400


def test_decide_is_limited_too_and_other_keys_are_not(project, make_key, api, settings,
                                                      fresh_counters):
    settings.WARDEN_API_RATE_LIMIT = TIGHT
    client = api(make_key(project, scopes=["decide"]))
    body = {"episode": "ep-1", "agent": "banker", "tool": "read_balance"}
    statuses = [client.post("/api/v1/decide", body, format="json").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = api(make_key(project, scopes=["decide"]))
    assert other.post("/api/v1/decide", body, format="json").status_code == 200


def test_no_limit_when_set_to_zero(project, make_key, api, settings, fresh_counters):
    settings.WARDEN_API_RATE_LIMIT = "0"
    client = api(make_key(project, scopes=["read"]))
    assert {client.get("/api/v1/whoami").status_code for _ in range(5)} == {200}


def test_without_redis_requests_pass_and_it_is_logged(project, make_key, api, settings, fresh_counters, caplog):
    settings.WARDEN_API_RATE_LIMIT = "1/86400"
    settings.WARDEN_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    client = api(make_key(project, scopes=["read"]))
    with caplog.at_level("WARNING", logger="warden.security"):
        assert {client.get("/api/v1/whoami").status_code for _ in range(3)} == {200}
    assert sum("rate limits off" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(("text", "rate"), [("6000/60", (6000, 60)), ("10/1", (10, 1)), ("0", (0, 0)),
                                            ("off", (0, 0)), ("100", (100, 60))])
def test_rates_are_read_as_count_per_seconds(text, rate):
    assert limits.parse_rate(text) == rate


@pytest.mark.parametrize("text", ["ten/60", "10/0", "-1/60", "10/x"])
def test_a_malformed_rate_names_the_setting(text):
    with pytest.raises(ValueError, match="WARDEN_API_RATE_LIMIT"):
        limits.parse_rate(text)


def _counted(key_id: int) -> int:
    """What Redis holds for the key in the current window (every test here is within one day-long window)."""
    client = redis.Redis.from_url(django_settings.WARDEN_RATE_LIMIT_REDIS_URL)
    return sum(int(client.get(name) or 0)
               for name in client.scan_iter(f"warden:ratelimit:{connection.settings_dict['NAME']}:{key_id}:*"))


def test_decide_counts_each_request_once_and_answers_the_next_past_the_limit_with_retry_after(
        project, make_key, api, settings, fresh_counters):
    settings.WARDEN_API_RATE_LIMIT = "5/86400"
    raw = make_key(project, scopes=["decide"])
    client = api(raw)
    body = {"episode": "ep-1", "agent": "banker", "tool": "read_balance"}
    statuses = [client.post("/api/v1/decide", body, format="json").status_code for _ in range(5)]
    assert statuses == [200] * 5
    key_id = project.api_keys.get().pk
    assert _counted(key_id) == 5
    refused = client.post("/api/v1/decide", body, format="json")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 86400
    assert _counted(key_id) == 6  # the refused request is counted once, not once per layer


def test_a_decide_the_lean_path_hands_to_the_view_counts_once(project, make_key, api, settings, fresh_counters):
    settings.WARDEN_API_RATE_LIMIT = "3/86400"
    client = api(make_key(project, scopes=["decide"]))
    call = {"episode": "ep-1", "agent": "banker", "tool": "read_balance", "idempotency_key": "k-1"}
    assert client.post("/api/v1/decide", call, format="json").status_code == 200
    # The same key for another call: the lean path counts it, then the view answers the 4xx.
    reused = client.post("/api/v1/decide", {**call, "tool": "send_money"}, format="json")
    assert 400 <= reused.status_code < 500 and reused.status_code != 429
    assert _counted(project.api_keys.get().pk) == 2
    assert client.post("/api/v1/decide", {**call, "idempotency_key": "k-2"}, format="json").status_code == 200
    assert client.post("/api/v1/decide", {**call, "idempotency_key": "k-3"}, format="json").status_code == 429
