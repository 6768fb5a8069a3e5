from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "apps.policies"
    label = "policies"

    def ready(self) -> None:
        from apps.policies import receivers
        from apps.traces import signals

        signals.steps_storing.connect(receivers.on_steps_storing, dispatch_uid="policies.provenance")
