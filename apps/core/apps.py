from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from apps.core import after_response

        request_started.connect(after_response.on_request_started, dispatch_uid="core_after_response_start")
        request_finished.connect(after_response.on_request_finished, dispatch_uid="core_after_response_run")
