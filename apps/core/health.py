"""GET /healthz for load balancers: 200 when the database and the broker answer, else 503."""

import socket
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.core.db.base import answer_within

HEALTH_DEADLINE_SECONDS = 2.0


def database_ok() -> tuple[bool, str]:
    try:
        # A load balancer needs the answer now: a server that does not answer is down.
        with answer_within(HEALTH_DEADLINE_SECONDS), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any driver error means "down" for a health check
        return False, exc.__class__.__name__


def broker_ok(url: str | None = None, timeout: float = 0.5) -> tuple[bool, str]:
    url = url or settings.CELERY_BROKER_URL
    parsed = urlparse(url)
    if parsed.scheme.startswith("sqla+") or parsed.scheme == "memory":
        # the database broker is up exactly when the database is
        return database_ok()
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=timeout) as s:
            if parsed.scheme.startswith("redis"):
                s.sendall(b"PING\r\n")
                reply = s.recv(64)
                if not reply.startswith((b"+PONG", b"-NOAUTH")):
                    return False, "unexpected reply"
        return True, "ok"
    except OSError as exc:
        return False, exc.__class__.__name__


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    db, db_detail = database_ok()
    broker, broker_detail = broker_ok()
    status = 200 if db and broker else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "degraded", "database": db_detail, "broker": broker_detail},
        status=status,
    )
