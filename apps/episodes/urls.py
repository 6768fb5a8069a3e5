"""Browser pages, mounted under /p/<project>/runs/."""

from django.urls import path

from apps.episodes import views

app_name = "episodes"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("<str:run_id>/", views.run_detail, name="detail"),
    path("<str:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("<str:run_id>/snapshots.json", views.run_snapshots, name="snapshots"),
]
