"""Browser pages, mounted under /p/<project>/dashboard/."""

from django.urls import path  # noqa: F401

app_name = "dashboard"
urlpatterns: list = []
