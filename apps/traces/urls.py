"""Browser pages, mounted under /p/<project>/traces/."""

from django.urls import path

from apps.traces import views

app_name = "traces"
urlpatterns = [
    path("", views.episode_list, name="list"),
    path("views/", views.saved_view_save, name="saved_view_save"),
    path("views/<int:view_id>/delete", views.saved_view_delete, name="saved_view_delete"),
    path("e/<int:episode_id>/", views.episode_detail, name="episode"),
    path("e/<int:episode_id>/steps", views.step_chunk, name="step_chunk"),
    path("e/<int:episode_id>/export", views.episode_export, name="episode_export"),
    path("e/<int:episode_id>/trace", views.episode_trace, name="episode_trace"),
    path("sessions/<path:session>/", views.session_detail, name="session"),
    path("x/<path:external_id>/", views.episode_by_external_id, name="episode_by_external_id"),
]
