"""Browser pages, mounted under /p/<project>/governance/."""

from django.urls import path

from apps.governance import views

app_name = "governance"
urlpatterns = [
    path("", views.agent_list, name="agents"),
    path("agents/<path:agent>/move/", views.agent_move, name="agent_move"),
    path("agents/<path:agent>/", views.agent_detail, name="agent_detail"),
    path("sanctions/", views.sanction_apply, name="sanction_apply"),
    path("sanctions/<int:sanction_id>/lift/", views.sanction_lift, name="sanction_lift"),
    path("graphs/", views.graph_list, name="graphs"),
    path("graphs/visibility/", views.graph_visibility, name="graph_visibility"),
    path("log/", views.log_list, name="log"),
    path("log/verify/", views.log_verify, name="log_verify"),
    path("log/export/", views.log_export, name="log_export"),
]

