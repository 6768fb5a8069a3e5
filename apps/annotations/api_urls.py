"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.annotations import api

app_name = "annotations"
urlpatterns = [
    path("annotations", api.AnnotationListCreateApi.as_view(), name="list"),
    path("annotations/export", api.AnnotationExportApi.as_view(), name="export"),
    path("annotations/<int:annotation_id>", api.AnnotationDetailApi.as_view(), name="detail"),
]
