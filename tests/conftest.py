"""Shared fixtures: a project with a member per role, an outsider in another project, API keys.

`admin`, `reviewer`, `viewer` are members of `project`; `outsider` administers `other_project`
and must never see anything of `project`.
"""

import os

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.core import background
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

# `worker`: a real Celery worker process on the test's own queue (tests/builders/workers.py).
pytest_plugins = ["tests.builders.workers"]

PASSWORD = "pw-for-tests"

# Servers and workers the tests start run with the development keys, refused otherwise with DEBUG off.
os.environ.setdefault("WARDEN_ALLOW_DEV_KEYS", "1")


@pytest.fixture
def project():
    return ProjectFactory(slug="acme", name="Acme")


@pytest.fixture
def other_project():
    return ProjectFactory(slug="globex", name="Globex")


def _member(project, username, role):
    return MembershipFactory(project=project, user=UserFactory(username=username), role=role).user


@pytest.fixture
def admin(project):
    return _member(project, "alice", Role.ADMIN)


@pytest.fixture
def reviewer(project):
    return _member(project, "rita", Role.REVIEWER)


@pytest.fixture
def viewer(project):
    return _member(project, "victor", Role.VIEWER)


@pytest.fixture
def outsider(other_project):
    return _member(other_project, "oscar", Role.ADMIN)


@pytest.fixture
def login():
    """login(user) -> a Django test Client with that user's session."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def make_key():
    """make_key(project, scopes=[...]) -> raw API key string."""

    def make(project, scopes=("ingest", "decide", "read"), **kwargs) -> str:
        _key, raw = tenancy_services.api_key_create(project=project, name="test", scopes=list(scopes), **kwargs)
        return raw

    return make


@pytest.fixture
def api():
    """api(raw_key) -> a DRF APIClient sending that key as a Bearer token."""

    def make(raw: str | None = None) -> APIClient:
        client = APIClient()
        if raw:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from workers.celery_app import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _no_background_work(settings):
    """A live server's background thread flushes the log outbox, racing the test's own database
    flush (TRUNCATE) at teardown. Readers chain the outbox first anyway; the tests of the
    background flush turn it back on, and whatever they left due finishes before teardown."""
    settings.WARDEN_LOG_FLUSH_INTERVAL = -1
    # Likewise for tasks published after the response (eager here: they would write meanwhile).
    settings.WARDEN_AFTER_RESPONSE = False
    yield
    background.release_connections()
