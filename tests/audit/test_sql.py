"""The governance log statements' hand-kept column lists match the models."""

from apps.audit import sql
from apps.audit.models import GovernanceLogEntry, GovernanceLogOutbox


def _columns(model) -> set[str]:
    return {f.column for f in model._meta.concrete_fields}


def test_outbox_columns_are_every_column_of_the_outbox_but_its_id():
    assert set(sql.OUTBOX_COLUMNS) == _columns(GovernanceLogOutbox) - {"id"}


def test_entry_columns_are_every_signed_column_of_an_entry():
    # id defaults; outbox_id is bookkeeping that only a flush writes (CHAIN_SQL)
    assert set(sql.ENTRY_COLUMNS) == _columns(GovernanceLogEntry) - {"id", "outbox_id"}
