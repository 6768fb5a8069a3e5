"""schemathesis against Warden's own OpenAPI schema over real HTTP: no server errors and no response
that contradicts the schema (status, content type, headers, body), with bounded examples.

It prints the figures: operations, cases, failures. A failure names the check, the operation and a
curl command that reproduces it. `make test` runs the fuzzing and stateful phases with a few
examples per operation (about a minute); the full run adds the coverage phase (several minutes):

    WARDEN_SCHEMATHESIS_PHASES=coverage,fuzzing,stateful WARDEN_SCHEMATHESIS_EXAMPLES=20 \
        .venv/bin/python -m pytest tests/core/test_openapi.py -s
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from apps.policies import services as policy_services
from apps.traces import services as trace_services

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
PHASES = os.environ.get("WARDEN_SCHEMATHESIS_PHASES", "fuzzing,stateful")
EXAMPLES = os.environ.get("WARDEN_SCHEMATHESIS_EXAMPLES", "6")
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")
POLICY = """
name: fuzz
default: block
rules:
  - {tool: read_balance, effect: allow}
  - {tool: update_password, effect: deny, fallback: {action: ask}}
"""


def test_the_api_answers_as_its_schema_says(live_server, project, admin, make_key, tmp_path):
    policy_services.policy_publish(project=project, source=POLICY, actor=admin)
    trace_services.episode_upsert(project=project, external_id="ep-1", title="fuzzed")
    key = make_key(project, scopes=["ingest", "decide", "read", "review", "annotate", "admin"])
    report, schema = tmp_path / "report.json", tmp_path / "openapi.json"
    # The schema /api/schema/ serves, generated here rather than over a loaded live server's thread.
    schema.write_bytes(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    out = subprocess.run(
        [str(SCHEMATHESIS), "run", str(schema), "--url", live_server.url, "--checks", CHECKS, "--request-timeout", "60",
         "-H", f"Authorization: Bearer {key}", "--max-examples", EXAMPLES, "--seed", "11", "--workers", "2",
         "--phases", PHASES, "--suppress-health-check", "all",
         "--report", "json", "--report-json-path", str(report), "--output-truncate", "true"],
        capture_output=True, text=True, timeout=1200, cwd=tmp_path,  # its .hypothesis/ stays out of the tree
        # the trace import's JSON Lines body (tests/core/schemathesis_hooks.py)
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.core.schemathesis_hooks", "PYTHONPATH": str(ROOT)})
    summary = out.stdout[out.stdout.rfind("SUMMARY"):]
    operations = re.search(r"Tested: (\d+)", summary)
    cases = re.search(r"(\d+) generated", summary)
    failures = re.search(r"(\d+) unique failures", summary)
    print(f"schemathesis ({PHASES}, {EXAMPLES} examples): {operations and operations.group(1)} operations, "
          f"{cases and cases.group(1)} cases, {failures.group(1) if failures else 0} failures")
    print(summary)
    assert out.returncode == 0, out.stdout[-20000:] + out.stderr[-2000:]
    assert json.loads(report.read_text())
