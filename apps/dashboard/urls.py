"""Browser pages, mounted under /p/<project>/dashboard/ (the overview itself is /p/<project>/)."""

from django.urls import path

from apps.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("log-status", views.log_status, name="log_status"),
]
