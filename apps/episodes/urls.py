"""Browser pages, mounted under /p/<project>/episodes/."""

from django.urls import path  # noqa: F401

app_name = "episodes"
urlpatterns: list = []
