from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "apps.policies"
    label = "policies"

    def ready(self) -> None:
        from apps.policies import masking, receivers
        from apps.policies.replay_notes import ask_outcomes
        from apps.traces import panels, signals

        signals.steps_storing.connect(receivers.on_steps_storing, dispatch_uid="policies.provenance")
        panels.step_notes_register(ask_outcomes)
        signals.steps_mask_register(masking.steps_mask)
