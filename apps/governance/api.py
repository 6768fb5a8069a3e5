"""Governance API: the log (list, verify, export, checkpoints), agent states, sanctions and graphs."""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import selectors as audit_selectors
from apps.audit.checkpoints import CheckpointError, checkpoint_export, checkpoint_verify
from apps.audit.services import governance_log_flush
from apps.audit.verification import governance_verify, log_export_lines
from apps.core.api import PageNumberPagination, paginated_response
from apps.governance import controller, graphs, selectors
from apps.governance.models import Sanction, SanctionKind
from apps.tenancy.actors import actor_of


class LogEntryListApi(APIView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    api_scope = "read"

    @extend_schema_serializer(component_name="GovernanceLogFilter")
    class FilterSerializer(serializers.Serializer):
        event = serializers.CharField(required=False, max_length=100)

    @extend_schema_serializer(component_name="GovernanceLogEntry")
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
        governance_log_flush(project_id=request.auth.project.id)  # list every committed event
        entries = audit_selectors.log_entry_list(project=request.auth.project, event=filters.validated_data.get("event"))
        return paginated_response(request, self, entries, lambda page: self.OutputSerializer(page, many=True).data)


class LogVerifyApi(APIView):
    """Walks the whole chain with the server's keys; names the first broken or missing entry."""

    api_scope = "read"

    @extend_schema_serializer(component_name="GovernanceLogVerifyReport")
    class OutputSerializer(serializers.Serializer):
        project = serializers.CharField()
        ok = serializers.BooleanField()
        checked = serializers.IntegerField()
        head_seq = serializers.IntegerField(allow_null=True)
        head_hash = serializers.CharField(allow_null=True)
        broken_seq = serializers.IntegerField(allow_null=True)
        reason = serializers.CharField(allow_null=True)
        checkpoint_seq = serializers.IntegerField(allow_null=True)

    @extend_schema_serializer(component_name="GovernanceLogVerifyAgainst")
    class InputSerializer(serializers.Serializer):
        checkpoint = serializers.JSONField(help_text="a checkpoint from GET governance/log/checkpoints/export")

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        report = governance_verify(project=request.auth.project)
        return Response(self.OutputSerializer(report.as_dict()).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        """The same walk, with the head of a checkpoint exported earlier (and kept elsewhere) pinned."""
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            report = checkpoint_verify(project=request.auth.project, document=body.validated_data["checkpoint"])
        except CheckpointError as exc:
            raise serializers.ValidationError({"checkpoint": [str(exc)]}) from exc
        return Response(self.OutputSerializer(report.as_dict()).data)


class CheckpointExportApi(APIView):
    """The head now as a signed checkpoint: keep it outside Warden, verify against it later."""

    api_scope = "read"

    @extend_schema_serializer(component_name="GovernanceSignedCheckpoint")
    class OutputSerializer(serializers.Serializer):
        type = serializers.CharField()
        format = serializers.CharField()
        project = serializers.CharField()
        seq = serializers.IntegerField()
        head_hash = serializers.CharField()
        exported_at = serializers.CharField()
        key_id = serializers.CharField()
        mac = serializers.CharField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(checkpoint_export(project=request.auth.project)).data)


class LogExportApi(APIView):
    """A signed JSON Lines bundle of a range; check it with clients/verify/warden_verify.py."""

    api_scope = "read"

    @extend_schema_serializer(component_name="GovernanceLogExportRange")
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
    pagination_class = PageNumberPagination  # the schema documents the page envelope

    api_scope = "read"

    @extend_schema_serializer(component_name="GovernanceCheckpoint")
    class OutputSerializer(serializers.Serializer):
        seq = serializers.IntegerField()
        head_hash = serializers.CharField()
        entry_seq = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        checkpoints = audit_selectors.checkpoint_list(project=request.auth.project)
        return paginated_response(request, self, checkpoints,
                                  lambda page: self.OutputSerializer(page, many=True).data)


class AgentStateApi(APIView):
    """An agent's governance state, as the policy engine sees it on /decide."""

    api_scope = "read"

    @extend_schema_serializer(component_name="AgentGovernanceState")
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




class GraphListApi(APIView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    api_scope = "read"

    @extend_schema_serializer(component_name="GovernanceGraphVersion")
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        number = serializers.IntegerField()
        digest = serializers.CharField()
        is_active = serializers.BooleanField(source="in_force")
        created_at = serializers.DateTimeField()
        created_by = serializers.CharField()
        public_url = serializers.SerializerMethodField()

        def get_public_url(self, version) -> str:
            return reverse("public_graph", kwargs={"project": self.context["project"].slug, "digest": version.digest})

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        project = request.auth.project
        return paginated_response(
            request, self, selectors.graph_version_list(project=project),
            lambda page: self.OutputSerializer(page, many=True, context={"project": project}).data,
        )


class GraphPublishApi(APIView):
    """Publishes a YAML manifest (admin scope); 400 lists each problem with its line."""

    api_scope = "admin"

    @extend_schema_serializer(component_name="GovernanceGraphPublish")
    class InputSerializer(serializers.Serializer):
        source = serializers.CharField(max_length=200_000, trim_whitespace=False)
        activate = serializers.BooleanField(default=True)

    @extend_schema(request=InputSerializer, responses={201: GraphListApi.OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = request.auth.project
        version = graphs.graph_publish(project=project, actor=actor_of(request), **data.validated_data)
        body = GraphListApi.OutputSerializer(version, context={"project": project}).data
        return Response(body, status=201)


@extend_schema_serializer(component_name="Sanction")
class SanctionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agent = serializers.CharField()
    kind = serializers.CharField()
    tool = serializers.CharField()
    details = serializers.JSONField()
    source = serializers.CharField()
    graph_state = serializers.CharField()
    reason = serializers.CharField()
    applied_by = serializers.CharField()
    applied_at = serializers.DateTimeField()
    lifted_at = serializers.DateTimeField(allow_null=True)
    lifted_by = serializers.CharField()
    lift_reason = serializers.CharField()


class SanctionListApi(APIView):
    """GET lists sanctions (read scope; ?agent=, ?active=true|false); POST applies one (admin scope)."""
    pagination_class = PageNumberPagination  # the schema documents the page envelope

    @extend_schema_serializer(component_name="SanctionFilter")
    class FilterSerializer(serializers.Serializer):
        agent = serializers.CharField(required=False, max_length=200)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema_serializer(component_name="SanctionApply")
    class InputSerializer(serializers.Serializer):
        agent = serializers.CharField(max_length=200)
        kind = serializers.ChoiceField(choices=SanctionKind.values)
        tool = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        details = serializers.DictField(required=False, default=dict)
        reason = serializers.CharField(max_length=2000)

    api_scope = ("read", "admin")

    @extend_schema(parameters=[FilterSerializer], responses=SanctionOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        sanctions = selectors.sanction_list(project=request.auth.project, **filters.validated_data)
        return paginated_response(request, self, sanctions, lambda page: SanctionOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: SanctionOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = controller.sanction_apply(project=request.auth.project, actor=actor_of(request),
                                             **data.validated_data)
        return Response(SanctionOutputSerializer(sanction).data, status=201)


class SanctionLiftApi(APIView):
    api_scope = "admin"

    @extend_schema_serializer(component_name="SanctionLift")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses=SanctionOutputSerializer)
    def post(self, request, sanction_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = get_object_or_404(Sanction, project=request.auth.project, pk=sanction_id)
        sanction = controller.sanction_lift(sanction=sanction, actor=actor_of(request), **data.validated_data)
        return Response(SanctionOutputSerializer(sanction).data)
