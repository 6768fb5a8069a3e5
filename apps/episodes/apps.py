from django.apps import AppConfig


class EpisodesConfig(AppConfig):
    name = "apps.episodes"
    label = "episodes"

    def ready(self) -> None:
        from apps.episodes.views import replay_run_panel
        from apps.traces.panels import replay_panel_register

        replay_panel_register(replay_run_panel)
