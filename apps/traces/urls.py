"""Browser pages, mounted under /p/<project>/traces/."""

from django.urls import path  # noqa: F401

app_name = "traces"
urlpatterns: list = []
