"""Run events for higher apps (experiments), which episodes must not import.

    run_finished.send(sender=Run, run=run, status="completed" | "failed" | "cancelled")

Sent inside the transaction that finishes the run, so a receiver's writes commit (or roll back) with
the run's final state. Keep receivers thin: record the work with apps.core.outbox.task_enqueue. A
receiver that raises fails the finish; the run is then finished again by its next attempt.
"""

from django.dispatch import Signal

run_finished = Signal()
