"""Receivers that record lower apps' events in the governance log (connected in AuditConfig.ready)."""

from apps.audit.services import governance_log_append


def on_project_event(sender, project, event: str, actor: str, data: dict, **kwargs) -> None:
    governance_log_append(project=project, event=event, actor=actor, data=data)
