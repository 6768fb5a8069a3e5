"""Grades API: list with `read` or `annotate`, grade with `annotate`, export with `read` or `annotate`."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.annotations import selectors, services, views
from apps.core.api import PageNumberPagination, paginated_response
from apps.traces.models import Episode


class AnnotationApiView(APIView):
    # reading needs `read` or `annotate`; grading needs `annotate` (or `admin`)
    api_scope = ("read|annotate", "annotate")


FILTER_PARAMETERS = [OpenApiParameter(n, str) for n in ("episode", "name", "queue")]


@extend_schema_serializer(component_name="Annotation")
class AnnotationOutputSerializer(serializers.Serializer):
    """selectors.annotation_row, for the schema."""

    episode = serializers.CharField()
    episode_id = serializers.IntegerField()
    step_index = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    label = serializers.CharField(allow_blank=True)
    comment = serializers.CharField(allow_blank=True)
    source = serializers.CharField()
    queue = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class AnnotationListCreateApi(AnnotationApiView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    class InputSerializer(serializers.Serializer):
        episode = serializers.CharField(max_length=200, help_text="The episode's external id.")
        step_index = serializers.IntegerField(required=False, allow_null=True, min_value=0)
        name = serializers.CharField(max_length=100)
        value = serializers.FloatField(required=False, allow_null=True)
        label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
        queue = serializers.IntegerField(required=False, allow_null=True)

        class Meta:
            ref_name = "AnnotationInput"

    @extend_schema(parameters=FILTER_PARAMETERS, responses=AnnotationOutputSerializer(many=True))
    def get(self, request):
        filters = _filters(request.query_params)
        qs = selectors.annotation_list(project=request.auth.project, filters=filters)
        return paginated_response(request, self, qs, lambda page: [selectors.annotation_row(a) for a in page])

    @extend_schema(request=InputSerializer, responses={201: AnnotationOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = request.auth.project
        episode = Episode.objects.filter(project=project, external_id=v["episode"]).first()
        if episode is None:
            raise exceptions.ValidationError({"episode": [f"No episode '{v['episode']}' in this project."]})
        queue = selectors.queue_get(project=project, queue_id=v["queue"]) if v.get("queue") else None
        if v.get("queue") and queue is None:
            raise exceptions.ValidationError({"queue": ["No such queue in this project."]})
        annotation = services.annotation_create(
            project=project, episode=episode, name=v["name"], value=v.get("value"), label=v["label"],
            comment=v["comment"], step_index=v.get("step_index"), source=str(request.user), queue=queue)
        return Response(selectors.annotation_row(annotation), status=status.HTTP_201_CREATED)


def _filters(params) -> dict:
    try:
        return views.export_filters(params)
    except ValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict) from None


class AnnotationExportApi(AnnotationApiView):
    """Every grade (filtered like the list) as CSV (`?as=csv`) or a JSON array (the default).

    (`as`, not `format`: DRF reads `format` to pick a renderer.)"""

    @extend_schema(parameters=[*FILTER_PARAMETERS, OpenApiParameter("as", str, enum=["json", "csv"])],
                   responses={(200, "application/json"): AnnotationOutputSerializer(many=True),
                              (200, "text/csv"): str})
    def get(self, request):
        fmt = request.query_params.get("as", "json")
        if fmt not in ("json", "csv"):
            raise exceptions.ValidationError({"as": ["json or csv"]})
        rows = selectors.export_rows(project=request.auth.project, filters=_filters(request.query_params))
        return views.export_response(rows, fmt, f"grades-{request.auth.project.slug}")
