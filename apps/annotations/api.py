"""Grades API: list with `read` or `annotate`, grade with `annotate`, export with `read` or `annotate`."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.annotations import selectors, services, views
from apps.annotations.models import Annotation
from apps.core.api import PageNumberPagination, paginated_response
from apps.tenancy.actors import actor_of
from apps.traces.models import Episode


class AnnotationApiView(APIView):
    # reading needs `read` or `annotate`; grading needs `annotate` (or `admin`)
    api_scope = ("read|annotate", "annotate")


FILTER_PARAMETERS = [OpenApiParameter(n, str) for n in ("episode", "name", "queue")]


@extend_schema_serializer(component_name="Annotation")
class AnnotationOutputSerializer(serializers.Serializer):
    """selectors.annotation_row, for the schema."""

    id = serializers.IntegerField()
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


class AnnotationDetailApi(AnnotationApiView):
    """One grade: read it, change its score, label or comment (PATCH), or remove it (DELETE). A key
    changes or removes the grades it gave; an `admin` key any grade. Both are logged."""

    class InputSerializer(serializers.Serializer):
        value = serializers.FloatField(required=False, allow_null=True)
        label = serializers.CharField(max_length=100, required=False, allow_blank=True)
        comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True)

        class Meta:
            ref_name = "AnnotationUpdateInput"

    def annotation_or_404(self, request, annotation_id: int) -> Annotation:
        annotation = Annotation.objects.filter(project=request.auth.project, pk=annotation_id).select_related(
            "episode", "queue").first()
        if annotation is None:
            raise exceptions.NotFound(f"No annotation {annotation_id} in this project.")
        return annotation

    def editable_or_403(self, request, annotation_id: int) -> Annotation:
        annotation = self.annotation_or_404(request, annotation_id)
        if not services.annotation_editable(annotation=annotation, actor=actor_of(request),
                                            admin=request.auth.has_scope("admin")):
            raise exceptions.PermissionDenied("A key changes or removes only the grades it gave (an admin key: any).")
        return annotation

    @extend_schema(responses=AnnotationOutputSerializer)
    def get(self, request, annotation_id: int):
        return Response(selectors.annotation_row(self.annotation_or_404(request, annotation_id)))

    @extend_schema(request=InputSerializer, responses=AnnotationOutputSerializer)
    def patch(self, request, annotation_id: int):
        annotation = self.editable_or_403(request, annotation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise exceptions.ValidationError({"value": ["give value, label or comment"]})
        annotation = services.annotation_update(annotation=annotation, actor=actor_of(request), **data.validated_data)
        return Response(selectors.annotation_row(self.annotation_or_404(request, annotation.pk)))

    @extend_schema(responses={204: None})
    def delete(self, request, annotation_id: int):
        services.annotation_delete(annotation=self.editable_or_403(request, annotation_id), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


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
