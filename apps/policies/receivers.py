"""Trace signal receivers of the policies app."""

from apps.policies.services import provenance_record


def on_steps_storing(sender, *, episode, steps: list[dict], **kwargs) -> None:
    """Indexes the values of steps being stored, in their transaction (see traces.signals)."""
    provenance_record(episode_id=episode.pk, steps=steps)
