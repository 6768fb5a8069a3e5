"""Sections other apps add to the replay page.

traces is a lower layer than the apps that know more about an episode (a run's environment
snapshots, for one), so it cannot import them: they register a panel here from their
AppConfig.ready(). A panel returns HTML for the episode, or "" to show nothing.
"""

from collections.abc import Callable

from django.http import HttpRequest

from apps.traces.models import Episode

ReplayPanel = Callable[[HttpRequest, Episode], str]
_PANELS: list[ReplayPanel] = []


def replay_panel_register(panel: ReplayPanel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def replay_panels(*, request: HttpRequest, episode: Episode) -> list[str]:
    return [html for panel in _PANELS if (html := panel(request, episode))]
