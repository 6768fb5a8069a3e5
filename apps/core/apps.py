from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from celery.signals import task_success
        from django.core.signals import request_finished, request_started

        from apps.core import after_response, checks, openapi, outbox  # noqa: F401  (register the system checks, the API-key scheme)

        request_started.connect(after_response.on_request_started, dispatch_uid="core_after_response_start")
        request_finished.connect(after_response.on_request_finished, dispatch_uid="core_after_response_run")
        task_success.connect(outbox.on_task_success, weak=False, dispatch_uid="core_outbox_done")
