from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "apps.governance"
    label = "governance"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from apps.governance import receivers
        from apps.traces.signals import episode_ended

        episode_ended.connect(receivers.on_episode_ended, dispatch_uid="governance_oracle")
        request_finished.connect(receivers.on_request_finished, dispatch_uid="governance_log_flush")
