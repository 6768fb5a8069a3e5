import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.settings")

from apps.telemetry import instrument  # noqa: E402

instrument()
application = get_wsgi_application()
