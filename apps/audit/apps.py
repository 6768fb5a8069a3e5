from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"

    def ready(self) -> None:
        from apps.audit import receivers
        from apps.tenancy.signals import project_event

        project_event.connect(receivers.on_project_event, dispatch_uid="audit.project_event")
