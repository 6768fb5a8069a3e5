from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "apps.contracts"
    label = "contracts"

    def ready(self) -> None:
        from apps.contracts import receivers
        from apps.traces import signals

        signals.episode_ended.connect(receivers.on_episode_ended, dispatch_uid="contracts.check")
