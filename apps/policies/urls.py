"""Browser pages, mounted under /p/<project>/policies/."""

from django.urls import path  # noqa: F401

app_name = "policies"
urlpatterns: list = []
