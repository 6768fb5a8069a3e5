"""Experiments API: create from a spec (YAML or JSON), list, follow with results, cancel, retry,
rerun, export the result table (CSV or JSON), list a condition's trials.

Like runs (whose scope class this reuses), creating, cancelling or retrying needs a key with the
`ingest` and `decide` scopes, since the experiment's runs decide and record on the caller's behalf;
reads need `read`. Every lookup is scoped to the key's project.
"""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination, paginated_response
from apps.episodes.api import RUN_SCOPE
from apps.experiments import selectors, services
from apps.experiments.models import Experiment, Trial
from apps.tenancy.actors import actor_of
from apps.traces.http import spec_body


class ExperimentOutputSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField()
    eta_seconds = serializers.FloatField(allow_null=True)
    rerun_of = serializers.IntegerField(source="rerun_of_id", allow_null=True)

    class Meta:
        model = Experiment
        fields = ["id", "name", "title", "status", "total", "done", "failed", "cancelled", "progress", "eta_seconds",
                  "max_in_flight", "code_version", "spec_digest", "rerun_of", "cancel_requested", "created_by",
                  "created_at", "started_at", "finished_at"]


class ExperimentDetailOutputSerializer(ExperimentOutputSerializer):
    results = serializers.SerializerMethodField()

    class Meta(ExperimentOutputSerializer.Meta):
        fields = [*ExperimentOutputSerializer.Meta.fields, "spec", "results"]

    def get_results(self, experiment: Experiment) -> dict:
        return selectors.experiment_results(experiment=experiment)


class TrialOutputSerializer(serializers.ModelSerializer):
    condition = serializers.IntegerField(source="condition.index")
    run = serializers.CharField(source="run.key", default=None)
    episode = serializers.IntegerField(source="run.episode_id", default=None)

    class Meta:
        model = Trial
        fields = ["id", "condition", "task", "task_key", "seed", "repeat", "attempt", "status", "run", "episode",
                  "metrics", "error", "finished_at"]


def _experiment_or_404(request, experiment_id: int) -> Experiment:
    experiment = selectors.experiment_get(project=request.auth.project, experiment_id=experiment_id)
    if experiment is None:
        raise exceptions.NotFound(f"No experiment {experiment_id} in this project.")
    return experiment


class ExperimentListCreateApi(APIView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    api_scope = RUN_SCOPE

    @extend_schema(parameters=[OpenApiParameter("status", str)], responses=ExperimentOutputSerializer(many=True))
    def get(self, request):
        experiments = selectors.experiment_list(project=request.auth.project, filters=request.query_params)
        return paginated_response(request, self, experiments,
                                  lambda page: ExperimentOutputSerializer(page, many=True).data)

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
                   responses={201: ExperimentDetailOutputSerializer})
    def post(self, request):
        """Plans and queues an experiment; a bad spec is a 400 naming the field."""
        experiment = services.experiment_create(project=request.auth.project, source=spec_body(request, field="source", what="experiment"),
                                                actor=actor_of(request))
        return Response(ExperimentDetailOutputSerializer(experiment).data, status=status.HTTP_201_CREATED)


class ExperimentDetailApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(responses=ExperimentDetailOutputSerializer)
    def get(self, request, experiment_id: int):
        return Response(ExperimentDetailOutputSerializer(_experiment_or_404(request, experiment_id)).data)


class ExperimentCancelApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(request=None, responses=ExperimentOutputSerializer)
    def post(self, request, experiment_id: int):
        experiment = services.experiment_cancel(experiment=_experiment_or_404(request, experiment_id),
                                                actor=actor_of(request))
        return Response(ExperimentOutputSerializer(experiment).data)


class ExperimentRetryApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(request=None, responses=ExperimentOutputSerializer)
    def post(self, request, experiment_id: int):
        experiment = _experiment_or_404(request, experiment_id)
        services.experiment_retry(experiment=experiment, actor=actor_of(request))
        experiment.refresh_from_db()
        return Response(ExperimentOutputSerializer(experiment).data)


class ExperimentRerunApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(request=None, responses={201: ExperimentOutputSerializer})
    def post(self, request, experiment_id: int):
        experiment = services.experiment_rerun(experiment=_experiment_or_404(request, experiment_id),
                                               actor=actor_of(request))
        return Response(ExperimentOutputSerializer(experiment).data, status=status.HTTP_201_CREATED)


class ExperimentResultsApi(APIView):
    """The result table: `results.json` (the spec, counts and per-condition statistics) or
    `results.csv` (one row per condition and metric, comparison columns against the baseline)."""

    api_scope = RUN_SCOPE

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, experiment_id: int, kind: str):
        if kind not in ("csv", "json"):
            raise exceptions.NotFound("Results come as results.csv or results.json.")
        experiment = _experiment_or_404(request, experiment_id)
        if kind == "csv":
            response = HttpResponse(selectors.results_csv(experiment=experiment), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="experiment-{experiment.pk}-results.csv"'
            return response
        return Response(selectors.results_json(experiment=experiment))


class ExperimentTrialsApi(APIView):
    """One condition's trials (`?condition=<index>`, default 0; `&status=`), with their runs."""
    pagination_class = PageNumberPagination  # the schema documents the page envelope

    api_scope = RUN_SCOPE

    @extend_schema(parameters=[OpenApiParameter("condition", int), OpenApiParameter("status", str)],
                   responses=TrialOutputSerializer(many=True))
    def get(self, request, experiment_id: int):
        experiment = _experiment_or_404(request, experiment_id)
        condition = selectors.condition_get(experiment=experiment, index=request.query_params.get("condition", 0))
        if condition is None:
            raise exceptions.ValidationError({"condition": ["no condition with that index"]})
        trials = selectors.trial_list(condition=condition, status=request.query_params.get("status"))
        return paginated_response(request, self, trials.select_related("condition"),
                                  lambda page: TrialOutputSerializer(page, many=True).data)
