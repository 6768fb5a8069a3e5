"""OTLP/HTTP receiver: POST /v1/traces, protobuf or JSON, optionally gzip, Bearer API key (`ingest`).

Success is an empty ExportTraceServiceResponse in the request's encoding. Errors carry a
google.rpc.Status (protobuf) or its JSON form plus Warden's error object, naming what is wrong.
"""

import json

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from rest_framework import exceptions
from rest_framework.views import APIView

from apps.core.errors import error_body
from apps.traces import schema
from apps.traces.http import PayloadTooLarge, parse_json, read_body
from apps.traces.otlp import decode
from apps.traces.otlp.ingest import otlp_ingest

PROTOBUF = "application/x-protobuf"
# gRPC status codes used by OTLP/HTTP error bodies.
INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED = 3, 16, 7, 8


def _is_json(request) -> bool:
    return (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower() == "application/json"


def _error(request, status: int, message: str, code: str) -> HttpResponse:
    grpc = {400: INVALID_ARGUMENT, 401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 413: RESOURCE_EXHAUSTED}.get(
        status, INVALID_ARGUMENT
    )
    if _is_json(request):
        body = {"code": grpc, "message": message, **error_body(code, message)}  # gRPC-JSON status + ours
        return HttpResponse(json.dumps(body), status=status, content_type="application/json")
    return HttpResponse(
        status_pb2.Status(code=grpc, message=message).SerializeToString(), status=status, content_type=PROTOBUF
    )


class OtlpTracesApi(APIView):
    api_scope = "ingest"

    def handle_exception(self, exc):
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            return _error(self.request, 401, str(exc.detail), "not_authenticated")
        if isinstance(exc, exceptions.PermissionDenied):
            return _error(self.request, 403, str(exc.detail), "permission_denied")
        if isinstance(exc, PayloadTooLarge):
            return _error(self.request, 413, str(exc.detail), "too_large")
        if isinstance(exc, exceptions.ParseError):
            return _error(self.request, 400, str(exc.detail), "parse_error")
        return super().handle_exception(exc)

    @extend_schema(request={PROTOBUF: bytes, "application/json": dict},
                   responses={(200, "application/json"): dict, (200, PROTOBUF): bytes})
    def post(self, request):
        body = read_body(request)
        as_json = _is_json(request)
        content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if not as_json and content_type != PROTOBUF:
            return _error(request, 415, f"Content-Type must be {PROTOBUF} or application/json.", "unsupported")
        try:
            spans = decode.decode_json(parse_json(body)) if as_json else decode.decode_protobuf(body)
            otlp_ingest(project=request.auth.project, spans=spans)
        except decode.OtlpError as exc:
            return _error(request, 400, str(exc), "invalid")
        except schema.InvalidInput as exc:
            return _error(request, 400, str(exc), "invalid")
        except exceptions.ValidationError as exc:  # a JSON value refused by the body reader
            field, messages = next(iter(exc.detail.items()))
            return _error(request, 400, f"{field}: {messages[0]}", "invalid")
        if as_json:
            return HttpResponse("{}", content_type="application/json")
        return HttpResponse(ExportTraceServiceResponse().SerializeToString(), content_type=PROTOBUF)
