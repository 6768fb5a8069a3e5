"""System checks that keep a deployment from starting with the development secrets.

With DEBUG off, the development SECRET_KEY (sessions, CSRF, password resets) or the development
governance-log key (anyone holding the public default could re-sign a rewritten log) is an error:
`manage.py` commands refuse to run, and the web app and Celery refuse to start
(`refuse_unsafe_start`). WARDEN_ALLOW_DEV_KEYS=1 lets tests and local demos through, never with
WARDEN_PRODUCTION=1.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


@register(Tags.security)
def dev_keys_check(app_configs=None, **kwargs) -> list[Error]:
    if settings.DEBUG and not settings.WARDEN_PRODUCTION:
        return []
    if settings.WARDEN_ALLOW_DEV_KEYS and not settings.WARDEN_PRODUCTION:
        return []
    errors = []
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(Error(
            "DJANGO_SECRET_KEY is the development default; set a long random value (e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`).",
            hint="Or run with DJANGO_DEBUG=1 (development only).", id="warden.E001"))
    dev_secret = settings.DEV_LOG_KEYS.split(":", 1)[1]
    if dev_secret in settings.WARDEN_LOG_KEYS.values():
        errors.append(Error(
            "WARDEN_LOG_KEYS holds the development governance-log key, which anyone can use to re-sign a "
            "rewritten log; `manage.py governance_rotate_key --generate k2` prints a fresh one.",
            hint="Or run with DJANGO_DEBUG=1 (development only).", id="warden.E002"))
    return errors


def refuse_unsafe_start() -> None:
    """Called as the web app and Celery start (they run no system checks of their own)."""
    errors = dev_keys_check()
    if errors:
        raise ImproperlyConfigured("Warden refuses to start: " + " ".join(e.msg for e in errors))
