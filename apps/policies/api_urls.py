"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.policies import api

app_name = "policies"
urlpatterns = [
    path("decide", api.DecideApi.as_view(), name="decide"),
    path("decisions", api.DecisionListApi.as_view(), name="decisions"),
    path("decisions/<int:decision_id>", api.DecisionDetailApi.as_view(), name="decision"),
    path("narrow", api.NarrowApi.as_view(), name="narrow"),
    path("policies", api.PolicyListApi.as_view(), name="policies"),
    path("policies/publish", api.PolicyPublishApi.as_view(), name="publish"),
]
