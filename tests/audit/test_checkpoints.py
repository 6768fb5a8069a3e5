"""An exported, signed checkpoint lets an outside verifier catch a rewritten tail, even one re-signed
with the log key and with the stored checkpoints rewritten to match."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.audit import chain
from apps.audit.checkpoints import CheckpointError, checkpoint_export, checkpoint_verify
from apps.audit.models import GovernanceLogEntry
from apps.audit.services import log_checkpoint
from apps.audit.verification import governance_verify, log_export_lines
from tests.audit.builders import TABLE, as_superuser, fill_log

pytestmark = pytest.mark.django_db
VERIFIER = Path(__file__).resolve().parents[2] / "clients" / "verify" / "warden_verify.py"


def rewrite_tail(project, from_seq: int) -> None:
    """What the tables' owner holding the log key can do: new content from `from_seq` on, every
    MAC re-signed, and the stored checkpoints rewritten to the new heads."""
    rows = list(GovernanceLogEntry.objects.filter(project=project, seq__gte=from_seq).order_by("seq"))
    prev = GovernanceLogEntry.objects.get(project=project, seq=from_seq - 1).mac
    key = settings.WARDEN_LOG_KEYS[settings.WARDEN_LOG_KEY_ID].encode()
    payloads = [chain.canonical({"i": 1000 + e.seq, "tool": "nothing_happened"}) for e in rows]
    links = chain.link_rows([(e.ts, e.actor, e.event, p) for e, p in zip(rows, payloads, strict=True)],
                            key, prev, from_seq - 1)
    for payload, (seq, prev_hash, mac) in zip(payloads, links, strict=True):
        as_superuser(f"UPDATE {TABLE} SET payload = %s, prev_hash = %s, mac = %s, key_id = %s"
                     " WHERE project_id = %s AND seq = %s",
                     [payload, prev_hash, mac, settings.WARDEN_LOG_KEY_ID, project.id, seq])
        as_superuser("UPDATE governance_checkpoint SET head_hash = %s WHERE project_id = %s AND seq = %s",
                     [mac, project.id, seq], table="governance_checkpoint")


def test_an_exported_checkpoint_is_the_signed_head(project):
    fill_log(project, 4)
    document = checkpoint_export(project=project)
    head = GovernanceLogEntry.objects.get(project=project, seq=4)
    assert (document["project"], document["seq"], document["head_hash"]) == ("acme", 4, head.mac)
    assert checkpoint_verify(project=project, document=document).ok


def test_a_tail_rewritten_and_re_signed_passes_alone_but_not_against_the_exported_checkpoint(project):
    fill_log(project, 5)
    log_checkpoint(project=project)  # a stored checkpoint at 5 (entry 6 records it)
    document = checkpoint_export(project=project)  # kept by an auditor: head 6
    fill_log(project, 2)
    rewrite_tail(project, from_seq=4)
    assert governance_verify(project=project).ok  # the stored evidence was rewritten with the log
    report = checkpoint_verify(project=project, document=document)
    assert not report.ok and report.broken_seq == 6
    assert "checkpoint" in report.reason


def test_a_truncated_tail_is_caught_by_the_exported_checkpoint(project):
    fill_log(project, 5)
    document = checkpoint_export(project=project)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq >= 4", [project.id])
    report = checkpoint_verify(project=project, document=document)
    assert not report.ok and report.broken_seq == 4 and "truncated" in report.reason


def test_an_altered_checkpoint_document_is_refused(project, other_project):
    fill_log(project, 3)
    document = checkpoint_export(project=project)
    with pytest.raises(CheckpointError, match="MAC does not verify"):
        checkpoint_verify(project=project, document={**document, "seq": 2})
    with pytest.raises(CheckpointError, match="project 'acme', not 'globex'"):
        checkpoint_verify(project=other_project, document=document)


def test_api_exports_a_checkpoint_and_verifies_against_it(project, make_key, api):
    fill_log(project, 3)
    client = api(make_key(project, scopes=["read"]))
    document = client.get("/api/v1/governance/log/checkpoints/export").json()
    assert client.post("/api/v1/governance/log/verify", {"checkpoint": document}, format="json").json()["ok"]
    rewrite_tail(project, from_seq=2)
    report = client.post("/api/v1/governance/log/verify", {"checkpoint": document}, format="json").json()
    assert (report["ok"], report["broken_seq"]) == (False, document["seq"])
    bad = client.post("/api/v1/governance/log/verify", {"checkpoint": {**document, "head_hash": "0"}}, format="json")
    assert bad.status_code == 400 and "checkpoint" in bad.json()["error"]["fields"]


def test_commands_export_and_verify_against_a_checkpoint(project, tmp_path, capsys):
    fill_log(project, 3)
    call_command("governance_checkpoint_export", project="acme")
    path = tmp_path / "head.json"
    path.write_text(capsys.readouterr().out)
    call_command("governance_verify", checkpoint=str(path))
    assert "OK" in capsys.readouterr().out
    rewrite_tail(project, from_seq=3)
    with pytest.raises(CommandError, match="does not hold the exported checkpoint"):
        call_command("governance_verify", checkpoint=str(path))


def test_the_outside_verifier_catches_the_rewrite_with_the_checkpoint_file(project, tmp_path):
    fill_log(project, 4)
    head = tmp_path / "head.json"
    head.write_text(json.dumps(checkpoint_export(project=project)))
    rewrite_tail(project, from_seq=3)
    bundle = tmp_path / "log.jsonl"
    bundle.write_text("".join(log_export_lines(project=project)))
    key = f"{settings.WARDEN_LOG_KEY_ID}={settings.WARDEN_LOG_KEYS[settings.WARDEN_LOG_KEY_ID]}"
    alone = subprocess.run([sys.executable, str(VERIFIER), str(bundle), "--key", key], capture_output=True, text=True)
    assert alone.returncode == 0  # re-signed with the key: the bundle alone cannot tell
    pinned = subprocess.run([sys.executable, str(VERIFIER), str(bundle), "--key", key, "--checkpoint-file", str(head)],
                            capture_output=True, text=True)
    assert pinned.returncode == 1 and "entry 4: differs from the checkpoint" in pinned.stdout
