"""Stores mapped OTLP spans: one transaction per request, so a 2xx means every span is stored."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.tenancy.models import Project
from apps.traces import schema, services
from apps.traces.models import Episode, Step
from apps.traces.otlp import mapping

# Agent (wrapper) spans kept per episode; beyond this a long conversation keeps its first ones.
MAX_AGENT_SPANS = 100


def _episode_for(*, project: Project, group: dict) -> tuple[Episode, bool]:
    """The episode a group of spans belongs to.

    Without a conversation id, spans join the episode already holding their trace. An episode
    keyed by a bare trace id is provisional: exporters often send child spans before the parent
    that names the conversation, so when the conversation id arrives the episode takes it.
    """
    trace_id = group["trace_ids"][0]
    if not group["conversation"]:
        found = Episode.objects.filter(project=project, trace_ids__contains=[trace_id]).first()
        if found is not None:
            return found, False
        return services.episode_upsert(project=project, external_id=group["external_id"])
    found = Episode.objects.filter(project=project, external_id=group["external_id"]).first()
    if found is not None:
        return found, False
    provisional = Episode.objects.filter(
        project=project, external_id__in=group["trace_ids"], trace_ids__overlap=group["trace_ids"]
    ).first()
    if provisional is not None:
        Episode.objects.filter(pk=provisional.pk).update(external_id=group["external_id"])
        provisional.external_id = group["external_id"]
        return provisional, False
    return services.episode_upsert(project=project, external_id=group["external_id"])


@transaction.atomic
def otlp_ingest(*, project: Project, spans: list[dict]) -> dict:
    """Returns {"spans", "steps", "episodes"}: spans received, new steps written, episodes touched.

    A span already stored in its episode (an exporter retry) is skipped, so re-sending is harmless.
    """
    written = 0
    groups = mapping.group_spans(spans)
    for group in groups:
        episode, created = _episode_for(project=project, group=group)
        steps = group["steps"]
        if not created and group["span_ids"]:
            # Hold the episode row first, so two concurrent retries of a span cannot both miss it.
            Episode.objects.select_for_update().filter(pk=episode.pk).values_list("pk").first()
            seen = set(
                Step.objects.filter(episode_id=episode.pk, span_id__in=group["span_ids"])
                .values_list("span_id", flat=True)
            )
            steps = [s for s in steps if s["span_id"] not in seen]
        _episode_note(episode=episode, group=group)
        if steps:
            normalised = steps  # mapping returns steps in step_normalize's form
            for start in range(0, len(normalised), schema.MAX_BATCH_STEPS):
                chunk = normalised[start:start + schema.MAX_BATCH_STEPS]
                written += services.steps_store_normalised(episode=episode, steps=chunk)
    return {"spans": len(spans), "steps": written, "episodes": len(groups)}


def _episode_note(*, episode: Episode, group: dict) -> None:
    """Records trace ids, title, environment and agent names the spans carry, in one UPDATE."""
    changes: dict[str, Any] = {}
    trace_ids = services.merge_unique(episode.trace_ids, group["trace_ids"])
    if trace_ids != episode.trace_ids:
        changes["trace_ids"] = trace_ids
    if group["title"] and not episode.title:
        changes["title"] = group["title"]
    if group["task"] and not episode.task:
        changes["task"] = group["task"]
    if group["environment"] and not episode.environment:
        changes["environment"] = group["environment"]
    if group["conversation"] and not episode.session:
        changes["session"] = group["external_id"]
    agents = services.merge_unique(episode.agents, group["agents"])
    if agents != episode.agents:
        changes["agents"] = agents
    otel = dict((episode.config or {}).get("otel") or {})
    known = {s["span_id"] for s in otel.get("agent_spans", [])}
    fresh = [s for s in group["agent_spans"] if s["span_id"] not in known]
    if (group["resource"] and "resource" not in otel) or fresh:
        otel.setdefault("resource", group["resource"])
        otel["agent_spans"] = [*otel.get("agent_spans", []), *fresh][:MAX_AGENT_SPANS]
        changes["config"] = {**(episode.config or {}), "otel": otel}
    if changes:
        Episode.objects.filter(pk=episode.pk).update(**changes, updated_at=timezone.now())
        for name, value in changes.items():
            setattr(episode, name, value)
