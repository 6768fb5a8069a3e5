"""Trace API for agent runtimes (`ingest` scope to write, `read` to read).

Writes reply only after their transaction commits: a 2xx means the data is stored.
"""

import hashlib
from functools import wraps

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination, paginated_response
from apps.tenancy import idempotency
from apps.traces import jsonl, schema, selectors, services
from apps.traces.http import read_body, read_json, step_conflict_response
from apps.traces.models import Episode

MAX_STEP_PAGE = 1000
MAX_EXPORT_EPISODES = 10_000


def translate_errors(handler):
    """Service errors to API errors: InvalidInput -> 400 naming the field, StepConflict -> 409."""

    @wraps(handler)
    def wrapped(self, request, *args, **kwargs):
        try:
            return handler(self, request, *args, **kwargs)
        except schema.InvalidInput as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        except services.StepConflict as exc:
            return step_conflict_response(exc.index)

    return wrapped


class TraceApiView(APIView):
    api_scope = ("read", "ingest")

    def episode_or_404(self, request, external_id: str) -> Episode:
        episode = selectors.episode_get(project=request.auth.project, external_id=external_id)
        if episode is None:
            raise exceptions.NotFound(f"No episode with external id '{external_id}' in this project.")
        return episode


class EpisodeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Episode
        fields = [
            "external_id", "title", "task", "agents", "environment", "status", "started_at", "ended_at",
            "outcome", "seed", "config", "versions", "tags", "step_count", "tools", "violation_count",
            "session", "tokens_in", "tokens_out", "cost", "created_at", "updated_at",
        ]


class EpisodeListCreateApi(TraceApiView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    class InputSerializer(serializers.Serializer):
        external_id = serializers.CharField(max_length=200)
        title = serializers.CharField(max_length=500, required=False, allow_blank=True)
        task = serializers.CharField(max_length=100_000, required=False, allow_blank=True)
        agents = serializers.ListField(child=serializers.CharField(max_length=200), max_length=100, required=False)
        environment = serializers.CharField(max_length=200, required=False, allow_blank=True)
        seed = serializers.IntegerField(required=False, allow_null=True, min_value=-(2**63), max_value=2**63 - 1)
        config = serializers.DictField(required=False)
        versions = serializers.DictField(required=False)
        tags = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, required=False)
        started_at = serializers.DateTimeField(required=False)
        session = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                        help_text="Groups the episodes of one conversation (the session view).")

        class Meta:
            ref_name = "EpisodeUpsertInput"

    @extend_schema(
        parameters=[OpenApiParameter(name, str) for name in selectors.FILTERS],
        responses=EpisodeOutputSerializer(many=True),
    )
    @translate_errors
    def get(self, request):
        filters = selectors.episode_filters_parse(request.query_params)
        episodes = selectors.episode_list(project=request.auth.project, filters=filters)
        return paginated_response(request, self, episodes, lambda page: EpisodeOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={200: EpisodeOutputSerializer, 201: EpisodeOutputSerializer})
    @translate_errors
    def post(self, request):
        data = self.InputSerializer(data=read_json(request))
        data.is_valid(raise_exception=True)
        episode, created = services.episode_upsert(project=request.auth.project, **data.validated_data)
        return Response(
            EpisodeOutputSerializer(episode).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class EpisodeDetailApi(TraceApiView):
    @extend_schema(responses=EpisodeOutputSerializer)
    def get(self, request, external_id: str):
        return Response(EpisodeOutputSerializer(self.episode_or_404(request, external_id)).data)


class StepsApi(TraceApiView):
    """POST appends a batch of steps (all-or-nothing, idempotent); GET pages through them by index."""

    class OutputSerializer(serializers.Serializer):
        external_id = serializers.CharField()
        received = serializers.IntegerField()
        written = serializers.IntegerField()
        step_count = serializers.IntegerField()

        class Meta:
            ref_name = "StepBatchResult"

    @extend_schema(
        parameters=[OpenApiParameter("from", int), OpenApiParameter("limit", int)],
        responses={200: dict},
    )
    @translate_errors
    def get(self, request, external_id: str):
        episode = self.episode_or_404(request, external_id)
        start = _int_param(request, "from", 0, 0, schema.MAX_INDEX)
        limit = _int_param(request, "limit", 100, 1, MAX_STEP_PAGE)
        steps = selectors.step_range(episode=episode, start=start, limit=limit)
        results = [{"id": s.id, **jsonl.step_record(s, episode.external_id)} for s in steps]
        for r in results:
            r.pop("type"), r.pop("episode")
        next_from = steps[-1].index + 1 if len(steps) == limit else None
        return Response({"external_id": episode.external_id, "results": results, "next_from": next_from})

    @extend_schema(request=dict, responses=OutputSerializer, parameters=[idempotency.OPENAPI_HEADER])
    @translate_errors
    def post(self, request, external_id: str):
        body = read_json(request)
        if isinstance(body, dict):
            steps = body.get("steps")
            key = idempotency.key_read(request, body.get(idempotency.FIELD))
        else:
            steps, key = body, idempotency.key_read(request)
        if not isinstance(steps, list):
            raise schema.InvalidInput("steps", "send {\"steps\": [...]} with a list of steps")
        if not steps:
            raise schema.InvalidInput("steps", "the batch is empty")
        episode = self.episode_or_404(request, external_id)

        def write() -> tuple[dict, int]:
            new = services.steps_ingest(episode=episode, steps=steps)
            return {"external_id": external_id, "received": len(steps), "written": new,
                    "step_count": episode.step_count}, 200

        # Steps without an index are numbered by the server: a retry under the same key gets the
        # first answer instead of appending the batch a second time.
        claim = idempotency.claim_for(request, key, "steps", external_id, steps)
        answer, code = idempotency.idempotent(claim=claim, write=write)
        return Response(answer, status=code)


class EpisodeEndApi(TraceApiView):
    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=schema.END_STATUSES)
        outcome = serializers.DictField(required=False, default=dict)

        class Meta:
            ref_name = "EpisodeEndInput"

    @extend_schema(request=InputSerializer, responses=EpisodeOutputSerializer)
    @translate_errors
    def post(self, request, external_id: str):
        data = self.InputSerializer(data=read_json(request))
        data.is_valid(raise_exception=True)
        episode = services.episode_end(episode=self.episode_or_404(request, external_id), **data.validated_data)
        return Response(EpisodeOutputSerializer(episode).data)


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise schema.InvalidInput(name, "must be an integer") from None
    if not low <= value <= high:
        raise schema.InvalidInput(name, f"must be between {low} and {high}")
    return value


def _jsonl_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class EpisodeExportApi(TraceApiView):
    @extend_schema(responses={(200, "application/x-ndjson"): str})
    def get(self, request, external_id: str):
        episode = self.episode_or_404(request, external_id)
        return _jsonl_response(jsonl.export_lines([episode]), f"{episode.external_id}.jsonl")


class ExportApi(TraceApiView):
    """The filtered set (same filters as the list) as JSON Lines, newest first, up to `limit` episodes."""

    @extend_schema(parameters=[OpenApiParameter(name, str) for name in (*selectors.FILTERS, "limit")],
                   responses={(200, "application/x-ndjson"): str})
    @translate_errors
    def get(self, request):
        filters = selectors.episode_filters_parse(request.query_params)
        limit = _int_param(request, "limit", 1000, 1, MAX_EXPORT_EPISODES)
        episodes = selectors.episode_list(project=request.auth.project, filters=filters)[:limit]
        return _jsonl_response(jsonl.export_lines(episodes.iterator(chunk_size=100)), "episodes.jsonl")


class ImportApi(TraceApiView):
    """JSON Lines as written by export; all-or-nothing; importing twice changes nothing."""

    @extend_schema(request={"application/x-ndjson": str}, responses={200: dict},
                   parameters=[idempotency.OPENAPI_HEADER])
    @translate_errors
    def post(self, request):
        key = idempotency.key_read(request)
        body = read_body(request)
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise exceptions.ParseError("Body is not UTF-8 JSON Lines.") from None
        # Importing twice writes nothing new; under the same key a retry also gets the first counts.
        claim = idempotency.claim_for(request, key, "import", hashlib.sha256(body).hexdigest())
        counts, code = idempotency.idempotent(
            claim=claim, write=lambda: (jsonl.traces_import(project=request.auth.project, lines=text.splitlines()), 200))
        return Response(counts, status=code)
