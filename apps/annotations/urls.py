"""Browser pages, mounted under /p/<project>/annotations/."""

from django.urls import path

from apps.annotations import views

app_name = "annotations"
urlpatterns = [
    path("", views.queue_list, name="queues"),
    path("queues/", views.queue_create, name="queue_create"),
    path("queues/<int:queue_id>/", views.queue_detail, name="queue"),
    path("queues/<int:queue_id>/next", views.queue_next, name="queue_next"),
    path("queues/<int:queue_id>/done/<int:episode_id>", views.queue_done, name="queue_done"),
    path("e/<int:episode_id>/grade", views.grade, name="grade"),
    path("e/<int:episode_id>/grades/<int:annotation_id>/remove", views.grade_remove, name="grade_remove"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", views.export, {"fmt": "json"}, name="export_json"),
]
