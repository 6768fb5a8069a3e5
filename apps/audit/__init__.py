"""The keyed governance log: hash chain, appends, the decision outbox and its flush, checkpoints, verification.

Every app that records an event imports `apps.audit.services`; audit depends only on tenancy.
"""
