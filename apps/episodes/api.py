"""Runs API: start a run from a spec (JSON or YAML), list and follow runs, cancel one.

Starting a run makes Warden decide and record on the caller's behalf, so it needs a key with both
the `ingest` and `decide` scopes; reads need `read`.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination, paginated_response
from apps.core.errors import error_response
from apps.episodes import selectors, services
from apps.episodes.models import Run
from apps.episodes.spec import SpecError, spec_parse
from apps.tenancy.actors import actor_of
from apps.traces.http import spec_body

# Reads need `read`; starting or cancelling a run needs `ingest` and `decide` (`admin` has all).
RUN_SCOPE = ("read", "ingest+decide")


class RunOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="key")
    episode = serializers.CharField(source="episode.external_id", default=None)
    progress = serializers.IntegerField()

    class Meta:
        model = Run
        fields = ["id", "title", "status", "environment", "regime", "seed", "episode", "rounds_done", "rounds_total",
                  "progress", "error", "versions", "metrics", "evidence", "training", "attempts", "worker",
                  "heartbeat_at", "cancel_requested", "created_by", "created_at", "started_at", "finished_at"]


class RunDetailOutputSerializer(RunOutputSerializer):
    class Meta(RunOutputSerializer.Meta):
        fields = [*RunOutputSerializer.Meta.fields, "spec"]


def _spec_from(request) -> dict:
    body = spec_body(request, field="spec", what="run")
    if isinstance(body, dict):
        return body
    try:
        return spec_parse(body)
    except SpecError as exc:
        raise exceptions.ValidationError({exc.field: [exc.message]}) from None


def _run_or_404(request, run_id: str) -> Run:
    run = selectors.run_get(project=request.auth.project, key=run_id)
    if run is None:
        raise exceptions.NotFound(f"No run '{run_id}' in this project.")
    return run


class RunListCreateApi(APIView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    api_scope = RUN_SCOPE

    @extend_schema(parameters=[OpenApiParameter(n, str) for n in selectors.FILTERS],
                   responses=RunOutputSerializer(many=True))
    def get(self, request):
        runs = selectors.run_list(project=request.auth.project, filters=request.query_params)
        return paginated_response(request, self, runs, lambda page: RunOutputSerializer(page, many=True).data)

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
                   responses={201: RunDetailOutputSerializer, 200: RunDetailOutputSerializer})
    def post(self, request):
        """Queues a run. The spec's `id` is an idempotency key: the same id and spec answer 200 with
        the run already made, another spec under that id 409."""
        data = _spec_from(request)
        try:
            run, created = services.run_create(project=request.auth.project, data=data, actor=actor_of(request))
        except services.RunConflict as exc:
            return error_response(409, "run_conflict", f"id: {exc}; choose another id.")
        return Response(RunDetailOutputSerializer(run).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RunDetailApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(responses=RunDetailOutputSerializer)
    def get(self, request, run_id: str):
        return Response(RunDetailOutputSerializer(_run_or_404(request, run_id)).data)


class RunSnapshotsApi(APIView):
    """The environment's state before the first round and after the last (JSON)."""

    api_scope = RUN_SCOPE

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, run_id: str):
        run = _run_or_404(request, run_id)
        return Response({"id": run.key, "before": run.snapshot_before, "after": run.snapshot_after})


class RunCancelApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(request=None, responses=RunOutputSerializer)
    def post(self, request, run_id: str):
        run = services.run_cancel(run=_run_or_404(request, run_id), actor=actor_of(request))
        return Response(RunOutputSerializer(run).data)
