"""Public, no-login graph pages, mounted at the site root by apps/urls.py."""

from django.urls import path

from apps.governance import public_views

urlpatterns = [
    path("graphs/<slug:project>/", public_views.public_graph_list, name="public_graphs"),
    path("graphs/<slug:project>/<str:digest>.json", public_views.public_graph_json, name="public_graph_json"),
    path("graphs/<slug:project>/<str:digest>/", public_views.public_graph, name="public_graph"),
]
