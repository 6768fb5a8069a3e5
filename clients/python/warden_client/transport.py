"""One HTTP exchange with Warden, retried when that is safe. Standard library only.

A failure is *ambiguous* when the client cannot know whether the server acted: the connection
failed or dropped, the response timed out, or a proxy or the server answered 502, 503 or 504.
Such a request is sent again only when repeating it cannot write twice: a GET, or a POST carrying
an Idempotency-Key (the server answers a retry under the same key with the first answer). A 429
is retried always (the server refused before doing anything). Waits honour Retry-After, otherwise
they back off exponentially with full jitter.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

AMBIGUOUS_STATUSES = frozenset({502, 503, 504})
THROTTLED = 429


class WardenError(Exception):
    """The server refused the request (4xx/5xx) or could not be reached (status 0)."""

    def __init__(self, status: int, code: str, message: str, body: Any = None, retry_after: float | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.body = status, code, message, body
        self.retry_after = retry_after


class WardenUnreachable(WardenError):
    """No answer from Warden after the retries: connection errors, timeouts, 502/503/504."""


@dataclass
class RetryPolicy:
    retries: int = 3  # attempts after the first
    backoff: float = 0.25  # seconds before the first retry (doubling, with full jitter)
    max_backoff: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After is cut to this

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def send(url: str, method: str, headers: dict[str, str], data: bytes | None, *, timeout: float,
         policy: RetryPolicy, idempotent: bool) -> Any:
    """The decoded JSON answer, after up to `policy.retries` retries of what may be retried."""
    attempt = 0
    while True:
        try:
            return _once(url, method, headers, data, timeout)
        except WardenError as exc:
            ambiguous = exc.status == 0 or exc.status in AMBIGUOUS_STATUSES
            retryable = exc.status == THROTTLED or (ambiguous and idempotent)
            if not retryable or attempt >= policy.retries:
                if ambiguous:
                    raise WardenUnreachable(exc.status, exc.code, exc.message, exc.body, exc.retry_after) from None
                raise
            _sleep(policy.delay(attempt, exc.retry_after))
            attempt += 1


def _once(url: str, method: str, headers: dict[str, str], data: bytes | None, timeout: float) -> Any:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        try:
            payload = exc.read()
        except (OSError, http.client.HTTPException):
            payload = b""
        try:
            parsed = json.loads(payload)
            error = parsed.get("error", {}) if isinstance(parsed, dict) else {}
        except ValueError:
            parsed, error = payload.decode(errors="replace"), {}
        if not isinstance(error, dict):
            error = {}
        raise WardenError(exc.code, error.get("code", "error"), error.get("message", str(exc)), parsed,
                          retry_after(exc.headers.get("Retry-After"))) from None
    except urllib.error.URLError as exc:
        raise WardenError(0, "unreachable", str(exc.reason)) from None
    except (OSError, http.client.HTTPException) as exc:  # reset, timed out, closed mid-answer
        raise WardenError(0, "unreachable", f"{type(exc).__name__}: {exc}") from None
    try:
        return json.loads(raw) if raw else None
    except ValueError:  # a proxy's page in place of Warden's answer
        raise WardenError(0, "unreachable", "the answer was not Warden's JSON") from None


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
