"""The log over the API: list, verify, export (checked by the standalone verifier), checkpoints."""

import subprocess
import sys
from pathlib import Path

import pytest

from apps.audit.services import log_checkpoint
from tests.audit.builders import TABLE, as_superuser, fill_log

pytestmark = pytest.mark.django_db

VERIFIER = Path(__file__).resolve().parents[2] / "clients" / "verify" / "warden_verify.py"
KEY = "k1=warden-dev-log-key-change-me"


def _export(api, key, **params) -> bytes:
    response = api(key).get("/api/v1/governance/log/export", params)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _run_verifier(tmp_path, bundle: bytes, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "bundle.jsonl"
    path.write_bytes(bundle)
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(path), *args], capture_output=True, text=True, timeout=30
    )


def test_log_list_is_newest_first_and_filters_by_event(api, make_key, project):
    key = make_key(project)
    fill_log(project, 3)
    fill_log(project, 2, event="sanction.applied")
    body = api(key).get("/api/v1/governance/log", {"event": "decision"}).json()
    assert body["count"] == 3
    assert [e["seq"] for e in body["results"]] == [4, 3, 2]
    assert body["results"][0]["data"] == {"i": 2, "tool": "send_money"}


def test_log_list_shows_only_the_keys_project(api, make_key, project, other_project):
    key = make_key(project)
    fill_log(other_project, 4)
    body = api(key).get("/api/v1/governance/log").json()
    assert [e["event"] for e in body["results"]] == ["api_key.created"]


def test_log_needs_a_key_with_read_scope(api, make_key, project):
    assert api().get("/api/v1/governance/log").status_code in (401, 403)
    assert api(make_key(project, scopes=["ingest"])).get("/api/v1/governance/log").status_code == 403


def test_verify_endpoint_names_the_first_missing_entry(api, make_key, project):
    fill_log(project, 5)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq = 2", [project.id])
    body = api(make_key(project)).get("/api/v1/governance/log/verify").json()
    assert body["ok"] is False
    assert body["broken_seq"] == 2
    assert body["checked"] == 1


def test_verify_endpoint_checks_only_the_keys_project(api, make_key, project, other_project):
    fill_log(project, 2)
    as_superuser(f"DELETE FROM {TABLE} WHERE project_id = %s AND seq = 1", [project.id])
    key = make_key(other_project)
    fill_log(other_project, 3)
    body = api(key).get("/api/v1/governance/log/verify").json()
    assert (body["ok"], body["project"], body["checked"]) == (True, "globex", 4)


def test_exported_bundle_passes_the_standalone_verifier(api, make_key, project, tmp_path):
    key = make_key(project)
    fill_log(project, 4)
    log_checkpoint(project=project)
    result = _run_verifier(tmp_path, _export(api, key), "--key", KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 6 entries (1..6)" in result.stdout


def test_exported_range_chains_to_the_entry_before_it(api, make_key, project, tmp_path):
    key = make_key(project)
    fill_log(project, 6)
    result = _run_verifier(tmp_path, _export(api, key, from_seq=3, to_seq=5), "--key", KEY)
    assert result.returncode == 0, result.stdout
    assert "OK: 3 entries (3..5)" in result.stdout


def test_standalone_verifier_names_an_edited_entry(api, make_key, project, tmp_path):
    key = make_key(project)  # entry 1
    fill_log(project, 4)  # entries 2..5, "i" 0..3
    lines = _export(api, key).decode().splitlines(keepends=True)
    lines[3] = lines[3].replace('"i":1', '"i":7')  # line 1 is the header: line 4 is entry 3
    result = _run_verifier(tmp_path, "".join(lines).encode(), "--key", KEY)
    assert result.returncode == 1
    assert "entry 3: MAC does not match" in result.stdout


def test_standalone_verifier_catches_a_bundle_cut_short(api, make_key, project, tmp_path):
    key = make_key(project)
    fill_log(project, 4)
    lines = _export(api, key).decode().splitlines(keepends=True)
    result = _run_verifier(tmp_path, "".join(lines[:-2]).encode(), "--key", KEY)
    assert result.returncode == 1
    assert "cut short after entry 4" in result.stdout


def test_standalone_verifier_rejects_the_wrong_key(api, make_key, project, tmp_path):
    fill_log(project, 2)
    result = _run_verifier(tmp_path, _export(api, make_key(project)), "--key", "k1=guess")
    assert result.returncode == 1
    assert "entry 1: MAC does not match" in result.stdout


def test_standalone_verifier_checks_a_recorded_checkpoint(api, make_key, project, tmp_path):
    fill_log(project, 3)
    result = _run_verifier(tmp_path, _export(api, make_key(project)), "--key", KEY, "--checkpoint", "2:" + "0" * 64)
    assert result.returncode == 1
    assert "entry 2: differs from the checkpoint" in result.stdout


def test_export_rejects_a_reversed_range_naming_the_field(api, make_key, project):
    response = api(make_key(project)).get("/api/v1/governance/log/export", {"from_seq": 5, "to_seq": 2})
    assert response.status_code == 400
    assert "to_seq" in response.json()["error"]["fields"]


def test_export_rejects_a_non_numeric_bound(api, make_key, project):
    response = api(make_key(project)).get("/api/v1/governance/log/export", {"from_seq": "x"})
    assert response.status_code == 400
    assert "from_seq" in response.json()["error"]["fields"]


def test_checkpoints_endpoint_lists_recorded_heads(api, make_key, project):
    key = make_key(project)
    fill_log(project, 2)
    checkpoint = log_checkpoint(project=project)
    body = api(key).get("/api/v1/governance/log/checkpoints").json()
    assert body["results"][0]["seq"] == 3
    assert body["results"][0]["head_hash"] == checkpoint.head_hash


def test_agent_state_endpoint_returns_the_default_for_unknown_agents(api, make_key, project):
    body = api(make_key(project)).get("/api/v1/governance/agents/trader-1").json()
    assert body == {"agent": "trader-1", "state": None, "suspended": False, "revoked_tools": [], "arg_bounds": {}}
