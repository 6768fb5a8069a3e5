"""Warden refuses the development secrets with DEBUG off; production settings pass `check --deploy`."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from apps.core.checks import dev_keys_check

ROOT = Path(__file__).resolve().parents[2]


def _env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items()
           # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
           if k not in {"WARDEN_ALLOW_DEV_KEYS", "DJANGO_SECRET_KEY", "WARDEN_LOG_KEYS", "DJANGO_DEBUG",
                        "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return {**env, **overrides}


def _production_env(**overrides) -> dict:
    return _env(WARDEN_PRODUCTION="1", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                WARDEN_LOG_KEYS=f"k1:{secrets.token_urlsafe(32)}", DJANGO_ALLOWED_HOSTS="warden.example.org",
                **overrides)


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_development_keys_with_debug_off_are_two_errors_naming_them(settings):
    settings.DEBUG, settings.WARDEN_ALLOW_DEV_KEYS = False, False
    errors = dev_keys_check()
    assert [e.id for e in errors] == ["warden.E001", "warden.E002"]
    assert "DJANGO_SECRET_KEY" in errors[0].msg and "WARDEN_LOG_KEYS" in errors[1].msg


def test_debug_or_the_explicit_allowance_accepts_them_but_production_never(settings):
    settings.WARDEN_ALLOW_DEV_KEYS, settings.DEBUG = False, True
    assert dev_keys_check() == []
    settings.WARDEN_ALLOW_DEV_KEYS, settings.DEBUG = True, False
    assert dev_keys_check() == []
    settings.WARDEN_PRODUCTION = True
    assert len(dev_keys_check()) == 2


def test_a_fresh_log_key_alone_is_not_enough(settings):
    settings.DEBUG, settings.WARDEN_ALLOW_DEV_KEYS = False, False
    settings.WARDEN_LOG_KEYS = {"k2": "fresh", "k1": "warden-dev-log-key-change-me"}  # the old one kept to verify
    assert [e.id for e in dev_keys_check()] == ["warden.E001", "warden.E002"]


def test_manage_py_refuses_to_run_with_the_development_keys():
    out = _manage("check", env=_env())
    assert out.returncode == 1
    assert "warden.E001" in out.stderr and "warden.E002" in out.stderr


def test_the_web_app_refuses_to_start_with_the_development_keys_in_production():
    out = subprocess.run([sys.executable, "-c", "import apps.wsgi"], cwd=ROOT, env=_env(WARDEN_PRODUCTION="1"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "Warden refuses to start" in out.stderr and "DJANGO_SECRET_KEY" in out.stderr


def test_check_deploy_is_clean_under_the_production_settings():
    out = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert out.returncode == 0, out.stderr
    assert "no issues" in out.stdout


def test_production_settings_turn_on_https_only_and_secure_cookies():
    code = ("from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
            "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)")
    out = _manage("shell", "-c", code, env=_production_env(WARDEN_BEHIND_PROXY="1"))
    assert out.stdout.splitlines()[-1].split() == ["True", "31536000", "True", "True", "('HTTP_X_FORWARDED_PROTO',", "'https')"]


@pytest.mark.django_db
def test_every_response_carries_a_content_security_policy_without_inline_script(client):
    policy = client.get("/login/")["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


def test_templates_hold_no_inline_script_or_event_handler():
    found = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            found.append(f"{path.name}: {match.group(0)}")
        found += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+=[\"']", text)]
    assert found == []
