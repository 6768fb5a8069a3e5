"""Browser pages, mounted under /p/<project>/reviews/."""

from django.urls import path

from apps.reviews import views

app_name = "reviews"
urlpatterns = [
    path("", views.violation_list, name="list"),
    path("bulk/", views.violation_bulk, name="bulk"),
    path("<int:violation_id>/", views.violation_detail, name="detail"),
]
