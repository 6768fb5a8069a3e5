"""Warden settings. Everything a deployment changes comes from the environment."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


# The development defaults of the two secrets. With DEBUG off the system checks refuse them
# (apps/core/checks.py) unless WARDEN_ALLOW_DEV_KEYS=1 says this is a test run or a local demo.
DEV_SECRET_KEY = "warden-dev-only-secret-change-me"
DEV_LOG_KEYS = "k1:warden-dev-log-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG")
WARDEN_ALLOW_DEV_KEYS = env_bool("WARDEN_ALLOW_DEV_KEYS")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# WARDEN_PRODUCTION=1: HTTPS only (redirect, HSTS, Secure cookies); development keys are refused
# even with WARDEN_ALLOW_DEV_KEYS. `manage.py check --deploy` is clean under it (docs/operations.md).
WARDEN_PRODUCTION = env_bool("WARDEN_PRODUCTION")
if WARDEN_PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("WARDEN_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("WARDEN_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("WARDEN_HSTS_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("WARDEN_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes inside the network speak plain HTTP
    if env_bool("WARDEN_BEHIND_PROXY"):
        # A TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from this origin (htmx, Plotly and static/js are served from static; no inline
# script). Inline styles stay allowed: Plotly and htmx set them. Sent on every response
# (apps/core/middleware.SecurityHeadersMiddleware); WARDEN_CSP replaces it, empty drops it.
WARDEN_CSP = os.environ.get("WARDEN_CSP", "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "connect-src 'self'", "worker-src 'self' blob:", "object-src 'none'",
    "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
]))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "apps.core",
    "apps.tenancy",
    "apps.audit",
    "apps.traces",
    "apps.policies",
    "apps.contracts",
    "apps.governance",
    "apps.reviews",
    "apps.annotations",
    "apps.episodes",
    "apps.experiments",
    "apps.dashboard",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",  # Content-Security-Policy
    # NUL in paths and queries (400), body limits (413) and chunked bodies (411), before any view
    "apps.core.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "apps.urls"
WSGI_APPLICATION = "apps.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.tenancy.context_processors.projects",
            ],
        },
    },
]

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/warden"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DATABASES["default"]["ENGINE"] = "apps.core.db"
# Parameters travel separately from the SQL text and a statement run 5 times on a connection is
# prepared: PostgreSQL plans it once instead of on every call (the /decide statements plan in
# about as long as they run). DB_PREPARE_THRESHOLD=0 turns preparing off, e.g. behind a
# transaction-pooling proxy that cannot keep prepared statements.
_prepare = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
DATABASES["default"].setdefault("OPTIONS", {}).update(
    server_side_binding=True, prepare_threshold=_prepare or None,
)
# Every wait on the database is bounded (apps/core/db): connecting gives up after DB_CONNECT_TIMEOUT
# seconds, the server cancels a statement after DB_STATEMENT_TIMEOUT seconds (0: never) and ends a
# session left idle inside a transaction after a minute (its locks go with it), and a server that
# stops answering altogether is given up on 5 s after the statement timeout. The error is a 503.
_statement_timeout = float(os.environ.get("DB_STATEMENT_TIMEOUT", "20"))
DATABASES["default"]["OPTIONS"].update(
    connect_timeout=int(os.environ.get("DB_CONNECT_TIMEOUT", "5")),
    options=f"-c statement_timeout={int(_statement_timeout * 1000)} -c idle_in_transaction_session_timeout=60000",
)
WARDEN_DB_DEADLINE = _statement_timeout + 5 if _statement_timeout else None
# Parallel test sessions on one server each need their own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("WARDEN_TEST_DB") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "apps.core.staticfinders.PlotlyFinder",  # vendor/plotly.min.js from the plotly package
]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from the finders so a fresh clone needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("WARDEN_MAX_BODY_BYTES", str(10 * 1024 * 1024)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.tenancy.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.tenancy.auth.ApiScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies through apps/core/jsonbody.py: no NaN/Infinity, NUL, lone surrogates or deep nesting
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Warden API",
    "DESCRIPTION": "Decisions before tool calls, message-action traces, contracts and the governance log.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {"RunStatusEnum": "apps.episodes.models.RunStatus"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.core.openapi.error_responses_hook"],
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Check tasks (queue `checks`): a soft limit raises inside the task (a what-if job then reports
# failed), the hard limit ends the pool process. Seconds.
WARDEN_CHECK_SOFT_SECONDS = int(os.environ.get("WARDEN_CHECK_SOFT_SECONDS", "300"))
WARDEN_CHECK_HARD_SECONDS = int(os.environ.get("WARDEN_CHECK_HARD_SECONDS", "360"))
WARDEN_WHATIF_SOFT_SECONDS = int(os.environ.get("WARDEN_WHATIF_SOFT_SECONDS", "3600"))
WARDEN_WHATIF_HARD_SECONDS = int(os.environ.get("WARDEN_WHATIF_HARD_SECONDS", "3660"))
# Fairness (apps/core/fairness.py): check tasks of one project run in at most this many workers at
# once; a task finding its project's slots taken is sent again after the delay.
WARDEN_CHECKS_PER_PROJECT = int(os.environ.get("WARDEN_CHECKS_PER_PROJECT", "1"))
WARDEN_CHECKS_REQUEUE_SECONDS = float(os.environ.get("WARDEN_CHECKS_REQUEUE_SECONDS", "1"))
# A task whose pool process died (killed, out of memory) goes back to the queue instead of being
# acknowledged as failed; tasks are idempotent, so running one again is safe.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A message a dead worker had taken comes back after this many seconds (Redis's default is an
# hour). It must exceed the longest countdown (the Oracle's) plus a task's run time, or a task
# still running is delivered a second time; long jobs guard against that with a heartbeat.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("WARDEN_BROKER_VISIBILITY_TIMEOUT", "300")),
    # A publish to a broker that is down fails at once, one that stops answering within seconds,
    # instead of holding the publisher: work a write promised waits in its outbox (apps/core/outbox.py).
    "max_retries": 0, "socket_timeout": 5, "socket_connect_timeout": 2,
}
# A prefix for every key Warden's Celery keeps in Redis: processes that share a Redis database but
# not their queues (each benchmark's server and workers) stay apart, and one can empty its own keys.
if os.environ.get("WARDEN_BROKER_KEYPREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = os.environ["WARDEN_BROKER_KEYPREFIX"]
# Tasks a write promises (apps/core/outbox.py): published again when not done within the lease,
# the lease doubling at each attempt (the sweep runs from beat every WARDEN_OUTBOX_SWEEP_SECONDS,
# workers/celery_app.py).
WARDEN_OUTBOX_LEASE_SECONDS = float(os.environ.get("WARDEN_OUTBOX_LEASE_SECONDS", "60"))
# Idempotency keys (apps/tenancy/idempotency.py): a retry under the same key within this many hours
# gets the first answer; the beat task deletes older keys every hour.
WARDEN_IDEMPOTENCY_TTL_HOURS = float(os.environ.get("WARDEN_IDEMPOTENCY_TTL_HOURS", "24"))
# Limits (apps/tenancy/limits.py, docs/limits.md): a username+address pair is locked after this many
# wrong passwords within the window; each API key may make WARDEN_API_RATE_LIMIT requests
# ("<count>/<seconds>", "0" for none) per window, counted in Redis (the broker's unless set apart).
WARDEN_LOGIN_MAX_FAILURES = int(os.environ.get("WARDEN_LOGIN_MAX_FAILURES", "5"))
WARDEN_LOGIN_LOCKOUT_MINUTES = float(os.environ.get("WARDEN_LOGIN_LOCKOUT_MINUTES", "15"))
WARDEN_API_RATE_LIMIT = os.environ.get("WARDEN_API_RATE_LIMIT", "6000/60")
WARDEN_RATE_LIMIT_REDIS_URL = os.environ.get("WARDEN_RATE_LIMIT_REDIS_URL", CELERY_BROKER_URL)

# Governance log keys: "id:secret,id:secret"; the first signs new entries, all verify.
WARDEN_LOG_KEYS = dict(
    pair.split(":", 1)
    for pair in os.environ.get("WARDEN_LOG_KEYS", DEV_LOG_KEYS).split(",")
    if ":" in pair
)
WARDEN_LOG_KEY_ID = next(iter(WARDEN_LOG_KEYS))
# Seconds between a process's background flushes of the decision outbox into the log
# (apps/core/background.py); negative: none (the beat task and readers still chain the outbox).
WARDEN_LOG_FLUSH_INTERVAL = float(os.environ.get("WARDEN_LOG_FLUSH_INTERVAL", "0.2"))
# Publish the tasks a request triggers after its response is sent (apps/core/after_response.py).
WARDEN_AFTER_RESPONSE = env_bool("WARDEN_AFTER_RESPONSE", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WARDEN_LOG_LEVEL", "WARNING")},
}
