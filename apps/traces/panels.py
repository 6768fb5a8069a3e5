"""Sections and step notes other apps add to the replay page.

traces is a lower layer than the apps that know more about an episode (a run's environment
snapshots, how an ask was answered), so it cannot import them: they register here from their
AppConfig.ready(). A panel returns HTML for the episode, or "" to show nothing. A step note
source returns {step index: HTML} for the steps about to be shown, in one query for all of them.
"""

from collections.abc import Callable, Sequence

from django.http import HttpRequest

from apps.traces.models import Episode, Step

ReplayPanel = Callable[[HttpRequest, Episode], str]
StepNotes = Callable[[Episode, Sequence[Step]], dict[int, str]]
_PANELS: list[ReplayPanel] = []
_STEP_NOTES: list[StepNotes] = []


def replay_panel_register(panel: ReplayPanel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def replay_panels(*, request: HttpRequest, episode: Episode) -> list[str]:
    return [html for panel in _PANELS if (html := panel(request, episode))]


def step_notes_register(source: StepNotes) -> None:
    if source not in _STEP_NOTES:
        _STEP_NOTES.append(source)


def step_notes_attach(*, episode: Episode, steps: Sequence[Step]) -> None:
    """Sets `step.notes` (a list of HTML fragments) on each step shown."""
    found: dict[int, list[str]] = {}
    for source in _STEP_NOTES:
        for index, html in source(episode, steps).items():
            found.setdefault(index, []).append(html)
    for step in steps:
        step.notes = found.get(step.index, [])  # type: ignore[attr-defined]
