from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmIApi(APIView):
    """Tells a runtime which project and scopes its key carries: a cheap way to check a key."""

    class OutputSerializer(serializers.Serializer):
        project = serializers.CharField()
        key = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())
        expires_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        key = request.auth
        data = {"project": key.project.slug, "key": key.display, "scopes": key.scopes, "expires_at": key.expires_at}
        return Response(self.OutputSerializer(data).data)
