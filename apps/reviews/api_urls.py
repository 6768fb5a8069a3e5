"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.reviews import api

app_name = "reviews"
urlpatterns = [
    path("violations", api.ViolationListApi.as_view(), name="violation_list"),
    path("violations/counts", api.ViolationCountsApi.as_view(), name="violation_counts"),
    path("violations/<int:violation_id>", api.ViolationDetailApi.as_view(), name="violation_detail"),
    # Trace metrics read violations, so they live here; their paths predate the move (and are
    # tried before contracts/<name>, see apps/urls.py).
    path("contracts/metrics", api.MetricsApi.as_view(), name="metrics"),
    path("contracts/metrics/<str:external_id>", api.EpisodeMetricsApi.as_view(), name="episode_metrics"),
]
