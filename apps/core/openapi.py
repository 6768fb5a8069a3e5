"""What the OpenAPI schema (drf-spectacular) says beyond the views: the API-key scheme.

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
