from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "apps.governance"
    label = "governance"

    def ready(self) -> None:
        from apps.governance import receivers
        from apps.traces.signals import episode_ended

        episode_ended.connect(receivers.on_episode_ended, dispatch_uid="governance_oracle")
