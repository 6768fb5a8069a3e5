"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.policies import api, api_approvals, api_bindings

app_name = "policies"
urlpatterns = [
    path("decide", api.DecideApi.as_view(), name="decide"),
    path("decide/message", api.DecideMessageApi.as_view(), name="decide_message"),
    path("decisions", api.DecisionListApi.as_view(), name="decisions"),
    path("decisions/<int:decision_id>", api.DecisionDetailApi.as_view(), name="decision"),
    path("narrow", api.NarrowApi.as_view(), name="narrow"),
    path("policies", api.PolicyListApi.as_view(), name="policies"),
    path("policies/publish", api.PolicyPublishApi.as_view(), name="publish"),
    path("policies/bindings", api_bindings.BindingListApi.as_view(), name="bindings"),
    path("policies/bindings/<int:binding_id>", api_bindings.BindingDetailApi.as_view(), name="binding"),
    path("approvals", api_approvals.ApprovalListApi.as_view(), name="approvals"),
    path("approvals/<int:decision_id>/answer", api_approvals.ApprovalAnswerApi.as_view(), name="approval_answer"),
]
