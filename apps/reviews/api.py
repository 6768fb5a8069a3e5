"""Violations API: list and filter with `read`; triage (PATCH) with an `admin` key, the API's reviewer.
Trace metrics (`read`) keep their /contracts/metrics paths."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination, paginated_response
from apps.reviews import metrics, selectors, services
from apps.reviews.models import Status, Violation
from apps.tenancy.actors import actor_of
from apps.traces.models import Episode


class ViolationOutputSerializer(serializers.ModelSerializer):
    episode = serializers.CharField(source="episode.external_id")
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)

    class Meta:
        model = Violation
        fields = ["id", "episode", "source", "name", "version", "severity", "status", "first_step_index",
                  "evidence", "agent", "notes", "assignee", "created_at", "updated_at"]


class ViolationsApiView(APIView):
    api_scope = ("read", "admin")


class ViolationListApi(ViolationsApiView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    @extend_schema(
        parameters=[OpenApiParameter(f, str) for f in selectors.FILTERS],
        responses=ViolationOutputSerializer(many=True),
    )
    def get(self, request):
        qs = selectors.violation_list(project=request.auth.project, filters=request.query_params)
        return paginated_response(request, self, qs, lambda page: ViolationOutputSerializer(page, many=True).data)


class ViolationDetailApi(ViolationsApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ViolationUpdateInput"

        status = serializers.ChoiceField(choices=Status.values, required=False)
        notes = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
        assignee = serializers.CharField(max_length=150, required=False, allow_null=True, allow_blank=True)

    def violation_or_404(self, request, violation_id: int) -> Violation:
        violation = selectors.violation_get(project=request.auth.project, violation_id=violation_id)
        if violation is None:
            raise exceptions.NotFound(f"No violation {violation_id} in this project.")
        return violation

    @extend_schema(responses=ViolationOutputSerializer)
    def get(self, request, violation_id: int):
        return Response(ViolationOutputSerializer(self.violation_or_404(request, violation_id)).data)

    @extend_schema(request=InputSerializer, responses=ViolationOutputSerializer)
    def patch(self, request, violation_id: int):
        violation = self.violation_or_404(request, violation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise exceptions.ValidationError({"status": ["give status, notes or assignee"]})
        changes = dict(data.validated_data)
        if "assignee" in changes:
            changes["assignee"] = changes["assignee"] or None
        violation = services.violation_update(violation=violation, actor=actor_of(request), **changes)
        return Response(ViolationOutputSerializer(selectors.violation_get(
            project=request.auth.project, violation_id=violation.pk)).data)


class ViolationCountsApi(ViolationsApiView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(selectors.violation_counts(project=request.auth.project))


class MetricsApi(ViolationsApiView):
    """Aggregated trace metrics. Query: days (default 30), environment, agent."""

    @extend_schema(parameters=[OpenApiParameter(f, str) for f in ("days", "environment", "agent")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(metrics.project_metrics(project=request.auth.project, filters=request.query_params))


class EpisodeMetricsApi(ViolationsApiView):
    @extend_schema(operation_id="contracts_episode_metrics", responses=OpenApiTypes.OBJECT)
    def get(self, request, external_id: str):
        episode = Episode.objects.filter(project=request.auth.project, external_id=external_id).first()
        if episode is None:
            raise exceptions.NotFound(f"No episode with external id '{external_id}' in this project.")
        return Response(metrics.episode_metrics(episode=episode))
