"""Browser pages, mounted under /p/<project>/experiments/."""

from django.urls import path

from apps.experiments import search_views, views

app_name = "experiments"
urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("searches/", search_views.search_list, name="searches"),
    path("searches/<int:search_id>/cancel/", search_views.search_cancel, name="search_cancel"),
    path("<int:experiment_id>/", views.experiment_detail, name="detail"),
    path("<int:experiment_id>/cancel/", views.experiment_cancel, name="cancel"),
    path("<int:experiment_id>/retry/", views.experiment_retry, name="retry"),
    path("<int:experiment_id>/rerun/", views.experiment_rerun, name="rerun"),
    path("<int:experiment_id>/conditions/<int:index>/", views.condition_detail, name="condition"),
    path("<int:experiment_id>/results.<str:kind>", views.experiment_results, name="results"),
]
