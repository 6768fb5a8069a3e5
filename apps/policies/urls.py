"""Browser pages, mounted under /p/<project>/policies/."""

from django.urls import path

from apps.policies import views

app_name = "policies"
urlpatterns = [
    path("", views.policy_list, name="list"),
    path("new/", views.policy_edit, name="new"),
    path("publish/", views.policy_publish, name="publish"),
    path("decisions/", views.decision_list, name="decisions"),
    path("approvals/", views.approval_list, name="approvals"),
    path("approvals/<int:decision_id>/answer/", views.approval_answer, name="approval_answer"),
    path("replay/<int:episode_id>/", views.episode_replay_diff, name="replay_diff"),
    path("<slug:name>/", views.policy_detail, name="detail"),
    path("<slug:name>/edit/", views.policy_edit, name="edit"),
    path("<slug:name>/diff/", views.policy_diff, name="diff"),
    path("<slug:name>/versions/<int:number>/activate/", views.policy_activate, name="activate"),
    path("<slug:name>/bindings/", views.binding_add, name="binding_add"),
    path("<slug:name>/bindings/<int:binding_id>/remove/", views.binding_remove, name="binding_remove"),
]
