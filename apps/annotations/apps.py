from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "apps.annotations"
    label = "annotations"

    def ready(self) -> None:
        from apps.annotations.views import grades_panel
        from apps.traces.panels import replay_panel_register

        replay_panel_register(grades_panel)
