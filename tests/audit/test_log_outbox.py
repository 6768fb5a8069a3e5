"""Decision entries wait in a protected outbox and are chained in batches, in order, before any read."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from apps.audit.models import Checkpoint, GovernanceLogEntry, GovernanceLogOutbox, ts_text
from apps.audit.services import (
    governance_log_append,
    governance_log_defer,
    governance_log_flush,
    governance_log_flush_all,
    log_checkpoint,
    log_checkpoint_all,
    log_key_rotated,
    log_payload,
)
from apps.audit.verification import governance_verify
from tests.audit.builders import defer_log, fill_log
from tests.governance.test_log_api import KEY, _export, _run_verifier

pytestmark = pytest.mark.django_db


def _entries(project) -> list[tuple]:
    return list(
        GovernanceLogEntry.objects.filter(project=project).order_by("seq").values_list("seq", "event", "payload")
    )


def test_deferred_event_is_not_in_the_log_until_flushed(project):
    defer_log(project, 2)
    assert _entries(project) == []
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 2


def test_flush_chains_deferred_events_in_order_and_the_chain_verifies(project):
    defer_log(project, 5)
    assert governance_log_flush(project_id=project.id) == 5
    assert [(seq, payload) for seq, _e, payload in _entries(project)] == [(n + 1, f'{{"i":{n}}}') for n in range(5)]
    assert not GovernanceLogOutbox.objects.exists()
    report = governance_verify(project=project)
    assert report.ok and report.checked == 5


def test_flush_records_which_outbox_row_each_entry_chained(project):
    defer_log(project, 2)
    outbox_ids = list(GovernanceLogOutbox.objects.order_by("id").values_list("id", flat=True))
    governance_log_flush(project_id=project.id)
    assert list(GovernanceLogEntry.objects.order_by("seq").values_list("outbox_id", flat=True)) == outbox_ids


def test_flush_continues_the_existing_chain(project):
    fill_log(project, 2)
    defer_log(project, 2)
    governance_log_flush(project_id=project.id)
    entries = list(GovernanceLogEntry.objects.filter(project=project).order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[2].prev_hash == entries[1].mac
    assert governance_verify(project=project).ok


def test_flush_with_nothing_pending_chains_nothing(project):
    fill_log(project, 1)
    assert governance_log_flush(project_id=project.id) == 0
    assert governance_log_flush(project_id=project.id, wait=False) == 0


def test_flush_chains_more_than_one_batch(project):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO governance_logoutbox (project_id, created_at, actor, event, payload)"
            " SELECT %s, now(), 'bulk', 'decision', '{\"i\":' || i || '}' FROM generate_series(1, 2500) AS i",
            [project.id],
        )
    assert governance_log_flush(project_id=project.id) == 2500
    last = GovernanceLogEntry.objects.get(project=project, seq=2500)
    assert last.data == {"i": 2500}
    assert governance_verify(project=project).checked == 2500


def test_the_outbox_time_becomes_the_signed_entry_time(project):
    governance_log_defer(project=project, event="decision", actor="a", data={})
    deferred_at = GovernanceLogOutbox.objects.get(project=project).created_at
    governance_log_flush(project_id=project.id)
    entry = GovernanceLogEntry.objects.get(project=project)
    assert entry.created_at == deferred_at
    assert entry.ts == ts_text(deferred_at)


def test_deferred_payload_is_the_same_text_a_direct_append_signs(project):
    data = {"b": 1, "a": {10: "ten", 9: [1, None]}}
    governance_log_defer(project=project, event="decision", actor="a", data=data)
    direct = governance_log_append(project=project, event="direct", actor="a", data=data)
    deferred = GovernanceLogEntry.objects.get(project=project, seq=1)
    assert deferred.payload == direct.payload == log_payload(data)


def test_direct_append_chains_pending_deferred_events_first(project):
    defer_log(project, 2)
    entry = governance_log_append(project=project, event="sanction.applied", actor="rita", data={})
    assert entry.seq == 3
    assert [e for _s, e, _p in _entries(project)] == ["decision", "decision", "sanction.applied"]
    assert not GovernanceLogOutbox.objects.exists()
    assert governance_verify(project=project).ok


def test_flush_of_one_project_leaves_another_projects_outbox(project, other_project):
    defer_log(project, 1)
    defer_log(other_project, 2)
    governance_log_flush(project_id=project.id)
    assert GovernanceLogOutbox.objects.filter(project=other_project).count() == 2
    assert governance_log_flush_all() == 2
    assert not GovernanceLogOutbox.objects.exists()


def test_flush_inside_an_outer_transaction_joins_it(project):
    defer_log(project, 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        governance_log_flush(project_id=project.id)
        raise RuntimeError("the caller fails")
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 1
    assert _entries(project) == []


def test_checkpoint_covers_deferred_events(project):
    defer_log(project, 3)
    checkpoint = log_checkpoint(project=project)
    assert (checkpoint.seq, checkpoint.entry_seq) == (3, 4)
    assert governance_verify(project=project).ok


def test_checkpoint_all_includes_a_project_whose_events_all_wait_in_the_outbox(project):
    defer_log(project, 2)
    assert log_checkpoint_all() == 1
    assert Checkpoint.objects.get(project=project).seq == 2


def test_key_rotation_is_logged_even_when_deferred_events_are_pending(project, settings):
    fill_log(project, 1)
    defer_log(project, 1)
    settings.WARDEN_LOG_KEYS = {"k2": "the-new-key", **settings.WARDEN_LOG_KEYS}
    settings.WARDEN_LOG_KEY_ID = "k2"
    entry = log_key_rotated(project=project, actor="ops")
    assert (entry.seq, entry.data) == (3, {"previous_key_id": "k1", "key_id": "k2"})
    assert governance_verify(project=project).ok


@pytest.mark.parametrize(
    "statement",
    ["UPDATE governance_logoutbox SET actor = 'mallory'", "TRUNCATE governance_logoutbox"],
)
def test_database_refuses_editing_or_truncating_the_outbox(project, statement):
    defer_log(project, 2)
    with pytest.raises(DatabaseError, match="refused"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE stops at pending FK checks first
        cursor.execute(statement)
    assert list(GovernanceLogOutbox.objects.values_list("actor", flat=True)) == ["tester", "tester"]


def test_database_refuses_deleting_an_unchained_outbox_row_in_raw_sql(project):
    defer_log(project, 2)
    with pytest.raises(DatabaseError, match="not chained"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_logoutbox WHERE project_id = %s", [project.id])
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 2


def test_database_refuses_deleting_an_unchained_outbox_row_through_the_orm(project):
    defer_log(project, 1)
    with pytest.raises(DatabaseError, match="not chained"), transaction.atomic():
        GovernanceLogOutbox.objects.filter(project=project).delete()


def test_verify_and_export_include_deferred_events(api, make_key, project, tmp_path):
    key = make_key(project)  # logs "api_key.created" directly
    defer_log(project, 3)
    body = api(key).get("/api/v1/governance/log/verify").json()
    assert (body["ok"], body["checked"]) == (True, 4)
    defer_log(project, 2)
    result = _run_verifier(tmp_path, _export(api, key), "--key", KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 6 entries (1..6)" in result.stdout


def test_the_log_list_api_includes_deferred_events_and_the_page_shows_them_once_chained(api, make_key, login,
                                                                                     viewer, project):
    key = make_key(project)
    defer_log(project, 1, event="decision")
    body = api(key).get("/api/v1/governance/log", {"event": "decision"}).json()
    assert [e["seq"] for e in body["results"]] == [2]
    defer_log(project, 1, event="decision.late")
    page = login(viewer).get("/p/acme/governance/log/").content
    assert b"decision.late" not in page and b"1 event committed and waiting to be chained" in page
    governance_log_flush(project_id=project.id)  # the deciding process's flush, a fraction of a second later
    assert b"decision.late" in login(viewer).get("/p/acme/governance/log/").content


def test_verify_command_flushes_projects_whose_events_all_wait_in_the_outbox(project, capsys):
    defer_log(project, 2)
    call_command("governance_verify")
    assert "acme: OK, 2 entries verified" in capsys.readouterr().out


def test_batch_links_sign_the_same_message_as_a_single_entry():
    import hashlib
    import hmac

    from apps.audit import chain

    rows = [("2026-11-23T08:00:00.000001+00:00", "ä\"gent", "decision", '{"a":1}')] * 2
    links = chain.link_rows(rows, b"k", chain.GENESIS, 4)
    body = chain.canonical({"seq": 5, "ts": rows[0][0], "actor": rows[0][1], "event": "decision", "data": {"a": 1}})
    first = hmac.new(b"k", f"{chain.GENESIS}\n{body}".encode(), hashlib.sha256).hexdigest()
    assert links[0] == (5, chain.GENESIS, first)
    assert (links[1][0], links[1][1]) == (6, first)
