"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.experiments import api, search_api

app_name = "experiments"
urlpatterns = [
    path("experiments", api.ExperimentListCreateApi.as_view(), name="experiments"),
    path("experiments/<int:experiment_id>", api.ExperimentDetailApi.as_view(), name="experiment"),
    path("experiments/<int:experiment_id>/cancel", api.ExperimentCancelApi.as_view(), name="cancel"),
    path("experiments/<int:experiment_id>/retry", api.ExperimentRetryApi.as_view(), name="retry"),
    path("experiments/<int:experiment_id>/rerun", api.ExperimentRerunApi.as_view(), name="rerun"),
    path("experiments/<int:experiment_id>/trials", api.ExperimentTrialsApi.as_view(), name="trials"),
    path("experiments/<int:experiment_id>/results.<str:kind>", api.ExperimentResultsApi.as_view(), name="results"),
    path("searches", search_api.SearchListCreateApi.as_view(), name="searches"),
    path("searches/<int:search_id>", search_api.SearchDetailApi.as_view(), name="search"),
    path("searches/<int:search_id>/cancel", search_api.SearchCancelApi.as_view(), name="search_cancel"),
]
