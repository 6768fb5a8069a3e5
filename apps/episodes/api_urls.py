"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.episodes import api

app_name = "episodes"
urlpatterns = [
    path("runs", api.RunListCreateApi.as_view(), name="runs"),
    path("runs/<str:run_id>/cancel", api.RunCancelApi.as_view(), name="run_cancel"),
    path("runs/<str:run_id>/snapshots", api.RunSnapshotsApi.as_view(), name="run_snapshots"),
    path("runs/<str:run_id>", api.RunDetailApi.as_view(), name="run"),
]
