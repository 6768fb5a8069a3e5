"""OTLP/HTTP trace requests (protobuf or JSON) to plain spans. No Django import.

A plain span is a dict:
    {"trace_id": hex, "span_id": hex, "parent_span_id": hex, "name": str, "kind": int,
     "start_ns": int, "end_ns": int, "attributes": {key: value}, "status_code": 0|1|2,
     "status_message": str, "events": [{"name", "time_ns", "attributes"}],
     "resource": {key: value}, "scope": str}
Attribute values become Python values: str, bool, int, float, list, dict (kvlist), bytes as hex.
"""

import base64
import binascii
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class OtlpError(ValueError):
    """The request cannot be decoded; the message says what and where."""


# ---- protobuf -------------------------------------------------------------------------------

def _pb_value(v) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def _pb_attrs(attrs) -> dict:
    return {kv.key: _pb_value(kv.value) for kv in attrs}


def decode_protobuf(body: bytes) -> list[dict]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpError(f"Malformed protobuf: not an ExportTraceServiceRequest ({exc}).") from None
    spans = []
    for r, rs in enumerate(request.resource_spans):
        resource = _pb_attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = ss.scope.name
            for s, span in enumerate(ss.spans):
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    raise OtlpError(
                        f"resource_spans[{r}].scope_spans.spans[{s}]: trace_id must be 16 bytes and span_id 8."
                    )
                spans.append({
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": span.kind,
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": _pb_attrs(span.attributes),
                    "status_code": span.status.code,
                    "status_message": span.status.message,
                    "events": [
                        {"name": e.name, "time_ns": e.time_unix_nano, "attributes": _pb_attrs(e.attributes)}
                        for e in span.events
                    ],
                    "resource": resource,
                    "scope": scope,
                })
    return spans


# ---- JSON (OTLP/JSON: lowerCamelCase keys, hex ids, 64-bit ints as strings) ------------------

def _get(obj: dict, camel: str, snake: str, default=None):
    if camel in obj:
        return obj[camel]
    return obj.get(snake, default)


def _json_value(v: Any, where: str) -> Any:
    if not isinstance(v, dict):
        raise OtlpError(f"{where}: an AnyValue must be an object")
    for camel, snake in (("stringValue", "string_value"), ("boolValue", "bool_value")):
        if camel in v or snake in v:
            return _get(v, camel, snake)
    if "intValue" in v or "int_value" in v:
        try:
            return int(_get(v, "intValue", "int_value"))
        except (TypeError, ValueError):
            raise OtlpError(f"{where}.intValue: not an integer") from None
    if "doubleValue" in v or "double_value" in v:
        try:
            return float(_get(v, "doubleValue", "double_value"))
        except (TypeError, ValueError):
            raise OtlpError(f"{where}.doubleValue: not a number") from None
    if "arrayValue" in v or "array_value" in v:
        values = (_get(v, "arrayValue", "array_value") or {}).get("values") or []
        return [_json_value(x, f"{where}.arrayValue[{i}]") for i, x in enumerate(values)]
    if "kvlistValue" in v or "kvlist_value" in v:
        values = (_get(v, "kvlistValue", "kvlist_value") or {}).get("values") or []
        return _json_attrs(values, f"{where}.kvlistValue")
    if "bytesValue" in v or "bytes_value" in v:
        try:
            return base64.b64decode(_get(v, "bytesValue", "bytes_value")).hex()
        except (binascii.Error, TypeError):
            raise OtlpError(f"{where}.bytesValue: not base64") from None
    return None


def _json_attrs(attrs: Any, where: str) -> dict:
    if attrs is None:
        return {}
    if not isinstance(attrs, list):
        raise OtlpError(f"{where}: must be a list of key/value objects")
    out = {}
    for i, kv in enumerate(attrs):
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise OtlpError(f"{where}[{i}]: needs a string 'key'")
        out[kv["key"]] = _json_value(kv.get("value") or {}, f"{where}[{i}].value")
    return out


def _json_id(value: Any, size: int, where: str, required: bool = True) -> str:
    """OTLP/JSON ids are hex; protobuf's generic JSON mapping writes base64. Accept both."""
    if value in (None, ""):
        if required:
            raise OtlpError(f"{where}: missing")
        return ""
    if not isinstance(value, str):
        raise OtlpError(f"{where}: must be a hex string")
    if len(value) == size * 2:
        try:
            bytes.fromhex(value)
            return value.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) == size:
        return raw.hex()
    raise OtlpError(f"{where}: must be {size * 2} hex characters")


def _json_int(value: Any, where: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise OtlpError(f"{where}: must be an integer (nanoseconds)") from None
    if not 0 <= number < 2**64:
        raise OtlpError(f"{where}: must be an unsigned 64-bit integer (nanoseconds)")
    return number


_KINDS = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
          "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def decode_json(data: Any) -> list[dict]:
    if not isinstance(data, dict):
        raise OtlpError("Body must be a JSON object with resourceSpans.")
    resource_spans = _get(data, "resourceSpans", "resource_spans", [])
    if not isinstance(resource_spans, list):
        raise OtlpError("resourceSpans: must be a list")
    spans = []
    for r, rs in enumerate(resource_spans):
        where_r = f"resourceSpans[{r}]"
        if not isinstance(rs, dict):
            raise OtlpError(f"{where_r}: must be an object")
        resource = _json_attrs((rs.get("resource") or {}).get("attributes"), f"{where_r}.resource.attributes")
        scope_spans = _get(rs, "scopeSpans", "scope_spans", []) or []
        for c, ss in enumerate(scope_spans):
            where_s = f"{where_r}.scopeSpans[{c}]"
            if not isinstance(ss, dict) or not isinstance(ss.get("spans") or [], list):
                raise OtlpError(f"{where_s}: must be an object with a list of spans")
            scope = str((ss.get("scope") or {}).get("name") or "")
            for s, span in enumerate(ss.get("spans") or []):
                where = f"{where_s}.spans[{s}]"
                if not isinstance(span, dict):
                    raise OtlpError(f"{where}: must be an object")
                status = span.get("status") or {}
                code = status.get("code", 0)
                code = _STATUS.get(code, code) if isinstance(code, str) else code
                kind = span.get("kind", 0)
                kind = _KINDS.get(kind, 0) if isinstance(kind, str) else kind
                spans.append({
                    "trace_id": _json_id(_get(span, "traceId", "trace_id"), 16, f"{where}.traceId"),
                    "span_id": _json_id(_get(span, "spanId", "span_id"), 8, f"{where}.spanId"),
                    "parent_span_id": _json_id(
                        _get(span, "parentSpanId", "parent_span_id"), 8, f"{where}.parentSpanId", required=False
                    ),
                    "name": str(span.get("name") or ""),
                    "kind": kind if isinstance(kind, int) else 0,
                    "start_ns": _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano"),
                                          f"{where}.startTimeUnixNano"),
                    "end_ns": _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano"),
                                        f"{where}.endTimeUnixNano"),
                    "attributes": _json_attrs(span.get("attributes"), f"{where}.attributes"),
                    "status_code": code if isinstance(code, int) else 0,
                    "status_message": str(status.get("message") or ""),
                    "events": [
                        {
                            "name": str(e.get("name") or ""),
                            "time_ns": _json_int(_get(e, "timeUnixNano", "time_unix_nano"), f"{where}.events[{i}]"),
                            "attributes": _json_attrs(e.get("attributes"), f"{where}.events[{i}].attributes"),
                        }
                        for i, e in enumerate(span.get("events") or [])
                        if isinstance(e, dict)
                    ],
                    "resource": resource,
                    "scope": scope,
                })
    return spans
