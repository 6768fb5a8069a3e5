"""Episodes written through the real trace services, and contracts published through ours."""

from apps.contracts import services
from apps.traces import services as traces
from tests.contracts.trace_builders import steps

FLOW = """\
name: no-untrusted-payments
severity: critical
runtime: true
rules:
  - flow: {sinks: {kind: action, tool: send_money}}
"""

NO_DELETE = """\
name: no-deletes
severity: high
rules:
  - never: {kind: action, tool: 'delete_*'}
"""


def publish(project, source: str, actor: str = "alice"):
    version, _ = services.contract_publish(project=project, source=source, actor=actor)
    return version


def ingest(project, external_id: str, specs, *, end: str | None = None, outcome: dict | None = None):
    """Writes the steps (numbered 0..n-1) and optionally ends the episode."""
    episode, _ = traces.episode_upsert(project=project, external_id=external_id)
    if specs:
        traces.steps_append_batch(episode=episode, steps=steps(*specs))
    if end:
        episode = traces.episode_end(episode=episode, status=end, outcome=outcome or {})
    episode.refresh_from_db()
    return episode
