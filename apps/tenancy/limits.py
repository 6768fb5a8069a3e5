"""Limits on who may try how often: login lockout (PostgreSQL) and per-API-key request rates (Redis).

Login: WARDEN_LOGIN_MAX_FAILURES wrong passwords for one username from one address within
WARDEN_LOGIN_LOCKOUT_MINUTES lock that pair until the oldest of them is that old; while locked
even the right password is refused, with a message saying how long. Every failure and every
lockout is logged (logger `warden.security`). The failures are rows, so every web process sees
them and a restart forgets nothing.

API keys: at most WARDEN_API_RATE_LIMIT requests ("<count>/<seconds>", e.g. "6000/60"; "0": no
limit) per key in each fixed window, counted in Redis (one INCR per request, pipelined with its
expiry; a request is counted once, even when /decide's lean path hands it on to the API view, see
api_key_counted). Past the limit: 429 with Retry-After (the seconds left in the window). A limiter that
cannot reach Redis lets requests through and logs that once a minute: decisions do not stop
because a counter store did.
"""

import logging
import math
import time
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from apps.tenancy.models import LoginFailure

logger = logging.getLogger("warden.security")


# -- login ------------------------------------------------------------------------------------

def client_address(request: HttpRequest | None) -> str:
    """The address a login came from (REMOTE_ADDR: put the proxy's real-IP handling in front)."""
    return (request.META.get("REMOTE_ADDR") if request is not None else None) or "unknown"


def _window() -> timedelta:
    return timedelta(minutes=settings.WARDEN_LOGIN_LOCKOUT_MINUTES)


def login_locked_for(*, username: str, address: str) -> float:
    """Seconds until `username` may try again from `address` (0: not locked)."""
    limit = settings.WARDEN_LOGIN_MAX_FAILURES
    if limit <= 0:
        return 0.0
    since = timezone.now() - _window()
    recent = list(LoginFailure.objects.filter(username=username[:150], address=address, created_at__gt=since)
                  .order_by("-created_at").values_list("created_at", flat=True)[:limit])
    if len(recent) < limit:
        return 0.0
    # Locked until the limit-th most recent failure leaves the window.
    return max((recent[-1] + _window() - timezone.now()).total_seconds(), 1.0)


def login_failed(*, username: str, address: str) -> float:
    """Records a wrong password; returns the seconds of lockout it started (0: none)."""
    now = timezone.now()
    LoginFailure.objects.filter(created_at__lte=now - _window()).delete()  # a small table: keep it so
    LoginFailure.objects.create(username=username[:150], address=address, created_at=now)
    locked = login_locked_for(username=username, address=address)
    logger.warning("login failed: username=%r address=%s%s", username, address,
                   f"; locked for {math.ceil(locked)} s" if locked else "")
    return locked


def login_succeeded(*, username: str, address: str) -> None:
    LoginFailure.objects.filter(username=username[:150], address=address).delete()


def lockout_message(seconds: float) -> str:
    minutes = max(math.ceil(seconds / 60), 1)
    return (f"Too many failed sign-ins for this username from your address: locked for {minutes} more "
            f"minute{'s' if minutes != 1 else ''}. Try again later, or ask an administrator.")


# -- API keys ---------------------------------------------------------------------------------

_RETRY_REDIS_SECONDS = 60.0
_redis_down_until = 0.0


def rate_limit() -> tuple[int, int]:
    """(requests, window seconds) from WARDEN_API_RATE_LIMIT; (0, 0) is no limit."""
    return parse_rate(settings.WARDEN_API_RATE_LIMIT)


def parse_rate(text: str) -> tuple[int, int]:
    text = (text or "0").strip()
    if text in ("0", "off", ""):
        return 0, 0
    count, _, seconds = text.partition("/")
    try:
        parsed = int(count), int(seconds or 60)
    except ValueError:
        raise ValueError(f"WARDEN_API_RATE_LIMIT: '<requests>/<seconds>' such as 6000/60, not {text!r}") from None
    if parsed[0] < 0 or parsed[1] <= 0:
        raise ValueError(f"WARDEN_API_RATE_LIMIT: '<requests>/<seconds>' such as 6000/60, not {text!r}")
    return parsed


@cache
def _redis(url: str):
    """A client of the counters' Redis; None when the URL is not Redis (the broker fell back to SQL)."""
    import redis

    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)


def counter_name(*, key_id: int, window_start: int) -> str:
    """Per database, so test sessions and deployments sharing a Redis never share counters."""
    return f"warden:ratelimit:{connection.settings_dict['NAME']}:{key_id}:{window_start}"


_COUNTED = "warden_rate_counted"  # the request attribute holding the answer of its one count


def api_key_counted(request: HttpRequest, *, key_id: int) -> float | None:
    """api_key_throttled for this request, counted at most once: a second call (the API view after
    /decide's lean path counted and handed the request on) gets the first answer."""
    counted = getattr(request, _COUNTED, None)
    if counted is not None and counted[0] == key_id:
        return counted[1]
    wait = api_key_throttled(key_id=key_id)
    setattr(request, _COUNTED, (key_id, wait))
    return wait


def api_key_throttled(*, key_id: int) -> float | None:
    """None when the key may make this request (it is counted); else the seconds until it may."""
    global _redis_down_until
    limit, window = rate_limit()
    if not limit or time.monotonic() < _redis_down_until:
        return None
    client = _redis(settings.WARDEN_RATE_LIMIT_REDIS_URL)
    if client is None:
        return None
    now = time.time()
    start = int(now // window) * window
    name = counter_name(key_id=key_id, window_start=start)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, window + 1)
        count = pipe.execute()[0]
    except Exception as exc:  # noqa: BLE001 - any Redis failure: let requests through, say so once a minute
        _redis_down_until = time.monotonic() + _RETRY_REDIS_SECONDS
        logger.warning("API rate limits off for %.0f s: Redis did not answer (%s: %s)",
                       _RETRY_REDIS_SECONDS, type(exc).__name__, exc)
        return None
    if count <= limit:
        return None
    if count == limit + 1:
        logger.warning("API key %s is over its rate limit (%s requests in %s s)", key_id, limit, window)
    return float(max(math.ceil(start + window - now), 1))
