"""schemathesis hooks for tests/core/test_openapi.py (loaded through SCHEMATHESIS_HOOKS)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def to_json_lines(ctx, value):
    """A JSON Lines body (the trace import): one JSON document per line, whatever was generated."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
