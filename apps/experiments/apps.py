from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "apps.experiments"
    label = "experiments"

    def ready(self) -> None:
        from apps.episodes.signals import run_finished
        from apps.experiments import receivers

        run_finished.connect(receivers.on_run_finished, dispatch_uid="experiments.run_finished")
