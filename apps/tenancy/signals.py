"""Tenancy events for the apps above it (tenancy is the lowest app and imports none of them).

    project_event.send(sender=Project, project=project, event=str, actor=str, data=dict)

Sent inside the transaction that made the change (Django signals run synchronously), so the
audit app's receiver chains the event into the governance log in that same transaction, and a
log that cannot be written aborts the change.
"""

from django.dispatch import Signal

project_event = Signal()
