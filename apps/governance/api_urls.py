"""API endpoints, mounted under /api/v1/."""

from django.urls import path

from apps.governance import api

app_name = "governance"
urlpatterns = [
    path("governance/log", api.LogEntryListApi.as_view(), name="log"),
    path("governance/log/verify", api.LogVerifyApi.as_view(), name="log_verify"),
    path("governance/log/export", api.LogExportApi.as_view(), name="log_export"),
    path("governance/log/checkpoints", api.CheckpointListApi.as_view(), name="checkpoints"),
    path("governance/log/checkpoints/export", api.CheckpointExportApi.as_view(), name="checkpoint_export"),
    path("governance/graphs", api.GraphListApi.as_view(), name="graphs"),
    path("governance/graphs/publish", api.GraphPublishApi.as_view(), name="graph_publish"),
    path("governance/sanctions", api.SanctionListApi.as_view(), name="sanctions"),
    path("governance/sanctions/<int:sanction_id>/lift", api.SanctionLiftApi.as_view(), name="sanction_lift"),
    path("governance/agents/<path:agent>", api.AgentStateApi.as_view(), name="agent_state"),
]
