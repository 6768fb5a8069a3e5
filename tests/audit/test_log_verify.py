"""Verification finds the exact entry where the keyed chain was tampered with."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from apps.audit.models import Checkpoint, GovernanceLogEntry
from apps.audit.services import governance_log_append, log_checkpoint, log_key_rotated
from apps.audit.verification import governance_verify
from tests.audit.builders import TABLE, as_superuser, fill_log

pytestmark = pytest.mark.django_db


def test_untouched_log_verifies_with_its_head(project):
    fill_log(project, 5)
    report = governance_verify(project=project)
    assert report.ok and report.checked == 5
    assert report.head_hash == GovernanceLogEntry.objects.get(project=project, seq=5).mac


def test_empty_log_verifies(project):
    report = governance_verify(project=project)
    assert report.ok and report.checked == 0 and report.head_seq is None


def test_edited_payload_is_caught_at_that_entry(project):
    fill_log(project, 6)
    as_superuser(f"UPDATE {TABLE} SET payload = %s WHERE project_id = %s AND seq = 4", ['{"i":99}', project.id])
    report = governance_verify(project=project)
    assert not report.ok
    assert report.broken_seq == 4
    assert "MAC" in report.reason
    assert report.checked == 3


def test_edited_actor_is_caught_at_that_entry(project):
    fill_log(project, 3)
    as_superuser(f"UPDATE {TABLE} SET actor = 'mallory' WHERE project_id = %s AND seq = 2", [project.id])
    assert governance_verify(project=project).broken_seq == 2


def test_deleted_row_is_reported_missing(project):
    fill_log(project, 6)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq = 3", [project.id])
    report = governance_verify(project=project)
    assert report.broken_seq == 3
    assert "missing" in report.reason


def test_reordered_rows_are_caught_at_the_first_moved_entry(project):
    fill_log(project, 6)
    # swap entries 3 and 4 (through a spare seq: the unique index checks row by row)
    for old, new in [(3, 1_000_000), (4, 3), (1_000_000, 4)]:
        as_superuser(f"UPDATE {TABLE} SET seq = %s WHERE project_id = %s AND seq = %s", [new, project.id, old])
    report = governance_verify(project=project)
    assert report.broken_seq == 3
    assert "prev_hash" in report.reason


def test_truncated_tail_is_caught_by_the_checkpoint(project):
    fill_log(project, 5)
    log_checkpoint(project=project)  # records head 5 and appends entry 6
    fill_log(project, 2)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq >= 4", [project.id])
    report = governance_verify(project=project)
    assert not report.ok
    assert report.broken_seq == 4
    assert "truncated" in report.reason


def test_tampering_in_one_project_leaves_another_projects_chain_valid(project, other_project):
    fill_log(project, 3)
    fill_log(other_project, 3)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq = 2", [project.id])
    assert governance_verify(project=other_project).ok


def test_entry_signed_with_a_key_no_longer_configured_is_reported(project, settings):
    fill_log(project, 2)
    settings.WARDEN_LOG_KEYS = {"k9": "another"}
    settings.WARDEN_LOG_KEY_ID = "k9"
    report = governance_verify(project=project)
    assert report.broken_seq == 1
    assert "unknown key id" in report.reason


def test_checkpoint_records_the_head_and_skips_when_nothing_new(project):
    fill_log(project, 3)
    checkpoint = log_checkpoint(project=project)
    head = GovernanceLogEntry.objects.get(project=project, seq=3)
    assert (checkpoint.seq, checkpoint.head_hash, checkpoint.entry_seq) == (3, head.mac, 4)
    assert GovernanceLogEntry.objects.get(project=project, seq=4).data == {"seq": 3, "head": head.mac}
    assert log_checkpoint(project=project) is None


def test_rotated_key_signs_new_entries_and_old_entries_still_verify(project, settings):
    fill_log(project, 2)
    settings.WARDEN_LOG_KEYS = {"k2": "the-new-key", **settings.WARDEN_LOG_KEYS}
    settings.WARDEN_LOG_KEY_ID = "k2"
    entry = log_key_rotated(project=project, actor="ops")
    assert (entry.event, entry.key_id, entry.data) == ("log.key_rotated", "k2", {"previous_key_id": "k1", "key_id": "k2"})
    fill_log(project, 1)
    assert governance_verify(project=project).ok
    assert log_key_rotated(project=project, actor="ops") is None


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {TABLE} SET actor = 'mallory'",
        f"DELETE FROM {TABLE}",
        f"TRUNCATE {TABLE}",
        "DELETE FROM governance_checkpoint",
        "UPDATE governance_checkpoint SET head_hash = 'x'",
        "TRUNCATE governance_checkpoint",
    ],
)
def test_database_refuses_rewriting_history_in_raw_sql(project, statement):
    fill_log(project, 2)
    log_checkpoint(project=project)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE stops at pending FK checks first
        cursor.execute(statement)
    assert GovernanceLogEntry.objects.filter(project=project).count() == 3
    assert Checkpoint.objects.filter(project=project).count() == 1


def test_database_refuses_orm_update_of_an_entry(project):
    fill_log(project, 1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        GovernanceLogEntry.objects.filter(project=project).update(actor="mallory")


def test_database_refuses_orm_save_of_an_edited_entry(project):
    fill_log(project, 1)
    entry = GovernanceLogEntry.objects.get(project=project)
    entry.payload = "{}"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.save()


def test_database_refuses_orm_delete_of_an_entry(project):
    fill_log(project, 1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        GovernanceLogEntry.objects.filter(project=project).delete()


def test_verify_command_reports_ok_projects(project, capsys):
    fill_log(project, 3)
    call_command("governance_verify", "--project", "acme")
    assert "acme: OK, 3 entries verified" in capsys.readouterr().out


def test_verify_command_fails_naming_the_broken_entry(project, capsys):
    fill_log(project, 3)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq = 2", [project.id])
    with pytest.raises(CommandError):
        call_command("governance_verify")
    assert "acme: BROKEN at entry 2" in capsys.readouterr().out


def test_appended_entry_chains_to_the_previous_one(project):
    first = governance_log_append(project=project, event="a", actor="x", data={})
    second = governance_log_append(project=project, event="b", actor="x", data={})
    assert (second.seq, second.prev_hash) == (first.seq + 1, first.mac)


def test_checkpoint_task_checkpoints_every_project_with_a_log(project, other_project):
    from apps.audit.tasks import log_checkpoint_task

    fill_log(project, 2)
    fill_log(other_project, 1)
    assert log_checkpoint_task.delay().get() == 2
    assert sorted(Checkpoint.objects.values_list("seq", flat=True)) == [1, 2]


def test_rotate_key_command_generates_a_key_list_keeping_the_old_key(capsys):
    call_command("governance_rotate_key", "--generate", "k2")
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("WARDEN_LOG_KEYS=k2:")
    assert line.endswith(",k1:warden-dev-log-key-change-me")


def test_rotate_key_command_logs_the_rotation_per_project(project, settings, capsys):
    fill_log(project, 1)
    settings.WARDEN_LOG_KEYS = {"k2": "new", **settings.WARDEN_LOG_KEYS}
    settings.WARDEN_LOG_KEY_ID = "k2"
    call_command("governance_rotate_key")
    assert "acme: rotated to key k2" in capsys.readouterr().out
    assert governance_verify(project=project).ok


def test_payload_with_number_keys_verifies_on_the_server_and_standalone(project):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "clients" / "verify" / "warden_verify.py"
    spec = importlib.util.spec_from_file_location("warden_verify", path)
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)
    entry = governance_log_append(project=project, event="x", actor="a", data={10: "a", 9: [1.5, None]})
    assert governance_verify(project=project).ok
    record = {"seq": entry.seq, "ts": entry.ts, "actor": "a", "event": "x", "data": entry.data}
    assert verifier.entry_mac(b"warden-dev-log-key-change-me", entry.prev_hash, record) == entry.mac
