"""Browser pages, mounted under /p/<project>/reviews/."""

from django.urls import path  # noqa: F401

app_name = "reviews"
urlpatterns: list = []
