"""What the OpenAPI schema (drf-spectacular) says beyond the views: the API-key scheme and the
error statuses every operation may answer with (schemathesis holds the API to both).

Loaded by CoreConfig.ready(). The authentication class is named by its path, so core does not
import tenancy.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.tenancy.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "wdn_<prefix>_<secret>",
                "description": "A project API key: `Authorization: Bearer wdn_…`. Its scopes decide what it may call."}


PROTOBUF = "application/x-protobuf"
# Any operation may answer these, in the one error shape of apps/core/api.py (and the middleware's).
ERROR_STATUSES = {
    "400": "Invalid input; `error.fields` names each field and what is wrong with it.",
    "401": "No API key, or one that is unknown, revoked or expired.",
    "403": "The API key lacks the scope this operation needs.",
    "404": "No such object in the key's project (or no such endpoint).",
    "409": "Conflicts with the current state (e.g. a step index already taken, an ask already answered).",
    "411": "A chunked body the server could not read whole; send Content-Length.",
    "413": "The body is larger than WARDEN_MAX_BODY_BYTES.",
    "415": "The body's Content-Type is not one this operation reads.",
    "422": "The Idempotency-Key was used before with a different request.",
    "429": "Too many requests; retry after the `Retry-After` header's seconds.",
    "503": "The database (or broker) is unavailable; retry after the `Retry-After` header's seconds.",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": True,
                       "description": "Field name to its messages (400 only)."},
        },
    }},
}


def error_responses_hook(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: documents ERROR_STATUSES on every operation that does not
    already describe that status itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            content = dict(json_error)
            if PROTOBUF in operation.get("requestBody", {}).get("content", {}):  # OTLP answers in the request's encoding
                content[PROTOBUF] = {"schema": {"type": "string", "format": "binary"}}
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {"description": description, "content": content})
    return result
