"""API endpoints, mounted under /api/v1/. External ids are the runtime's own and may hold slashes,
so the routes with a suffix come before the bare episode route."""

from django.urls import path

from apps.traces import api

app_name = "traces"
urlpatterns = [
    path("episodes", api.EpisodeListCreateApi.as_view(), name="episodes"),
    path("episodes/<path:external_id>/steps", api.StepsApi.as_view(), name="steps"),
    path("episodes/<path:external_id>/end", api.EpisodeEndApi.as_view(), name="episode_end"),
    path("episodes/<path:external_id>/export", api.EpisodeExportApi.as_view(), name="episode_export"),
    path("episodes/<path:external_id>", api.EpisodeDetailApi.as_view(), name="episode"),
    path("traces/export", api.ExportApi.as_view(), name="export"),
    path("traces/import", api.ImportApi.as_view(), name="import"),
]
