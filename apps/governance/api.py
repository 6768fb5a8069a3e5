"""Governance API: the log (list, verify, export, checkpoints), agent states and graphs."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination
from apps.governance import selectors
from apps.governance.verification import governance_verify, log_export_lines
from apps.tenancy.auth import scope_required

ReadScope = scope_required("read")


class LogEntryListApi(APIView):
    permission_classes = [ReadScope]

    class FilterSerializer(serializers.Serializer):
        event = serializers.CharField(required=False, max_length=100)

    class OutputSerializer(serializers.Serializer):
        seq = serializers.IntegerField()
        ts = serializers.CharField()
        actor = serializers.CharField()
        event = serializers.CharField()
        data = serializers.JSONField()
        prev_hash = serializers.CharField()
        mac = serializers.CharField()
        key_id = serializers.CharField()

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = selectors.log_entry_list(project=request.auth.project, event=filters.validated_data.get("event"))
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class LogVerifyApi(APIView):
    """Walks the whole chain with the server's keys; names the first broken or missing entry."""

    permission_classes = [ReadScope]

    class OutputSerializer(serializers.Serializer):
        project = serializers.CharField()
        ok = serializers.BooleanField()
        checked = serializers.IntegerField()
        head_seq = serializers.IntegerField(allow_null=True)
        head_hash = serializers.CharField(allow_null=True)
        broken_seq = serializers.IntegerField(allow_null=True)
        reason = serializers.CharField(allow_null=True)
        checkpoint_seq = serializers.IntegerField(allow_null=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        report = governance_verify(project=request.auth.project)
        return Response(self.OutputSerializer(report.as_dict()).data)


class LogExportApi(APIView):
    """A signed JSON Lines bundle of a range; check it with clients/verify/warden_verify.py."""

    permission_classes = [ReadScope]

    class InputSerializer(serializers.Serializer):
        from_seq = serializers.IntegerField(required=False, min_value=1, default=1)
        to_seq = serializers.IntegerField(required=False, min_value=1, allow_null=True, default=None)

        def validate(self, attrs):
            if attrs["to_seq"] is not None and attrs["to_seq"] < attrs["from_seq"]:
                raise serializers.ValidationError({"to_seq": "must not be below from_seq"})
            return attrs

    @extend_schema(parameters=[InputSerializer], responses={(200, "application/x-ndjson"): str})
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        project = request.auth.project
        lines = log_export_lines(project=project, **params.validated_data)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="warden-{project.slug}-governance-log.jsonl"'
        return response


class CheckpointListApi(APIView):
    """Recorded chain heads: keep copies outside Warden to detect a rewritten tail later."""

    permission_classes = [ReadScope]

    class OutputSerializer(serializers.Serializer):
        seq = serializers.IntegerField()
        head_hash = serializers.CharField()
        entry_seq = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        checkpoints = selectors.checkpoint_list(project=request.auth.project)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(checkpoints, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class AgentStateApi(APIView):
    """An agent's governance state, as the policy engine sees it on /decide."""

    permission_classes = [ReadScope]

    class OutputSerializer(serializers.Serializer):
        agent = serializers.CharField()
        state = serializers.CharField(allow_null=True)
        suspended = serializers.BooleanField()
        revoked_tools = serializers.ListField(child=serializers.CharField())
        arg_bounds = serializers.JSONField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request, agent: str):
        state = selectors.agent_governance_state(project=request.auth.project, agent=agent)
        return Response(self.OutputSerializer({"agent": agent, **state}).data)
