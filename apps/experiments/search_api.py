"""Counterexample searches API: create from a spec (YAML or JSON), list, follow, cancel.

Keys as for experiments: `read` to read; `ingest` and `decide` to create or cancel. Every lookup is
scoped to the key's project.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination, paginated_response
from apps.episodes.api import RUN_SCOPE
from apps.experiments import searches, selectors
from apps.experiments.models import Search
from apps.tenancy.actors import actor_of
from apps.traces.http import spec_body


class SearchOutputSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField()
    episode = serializers.IntegerField(source="episode_id", allow_null=True)

    class Meta:
        model = Search
        fields = ["id", "name", "title", "status", "budget", "episodes", "progress", "found", "baseline_failed",
                  "counterexample", "episode", "error", "cancel_requested", "created_by", "created_at", "started_at",
                  "finished_at"]


class SearchDetailOutputSerializer(SearchOutputSerializer):
    class Meta(SearchOutputSerializer.Meta):
        fields = [*SearchOutputSerializer.Meta.fields, "spec", "run_spec", "policy_digest", "contracts"]


def _search_or_404(request, search_id: int) -> Search:
    search = selectors.search_get(project=request.auth.project, search_id=search_id)
    if search is None:
        raise exceptions.NotFound(f"No search {search_id} in this project.")
    return search


class SearchListCreateApi(APIView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    api_scope = RUN_SCOPE

    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("found", bool)],
                   responses=SearchOutputSerializer(many=True))
    def get(self, request):
        found = selectors.search_list(project=request.auth.project, filters=request.query_params)
        return paginated_response(request, self, found, lambda page: SearchOutputSerializer(page, many=True).data)

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT, "application/yaml": OpenApiTypes.STR},
                   responses={201: SearchDetailOutputSerializer})
    def post(self, request):
        """Queues a counterexample search; a bad spec is a 400 naming the field."""
        search = searches.search_create(project=request.auth.project,
                                        source=spec_body(request, field="source", what="search"),
                                        actor=actor_of(request))
        return Response(SearchDetailOutputSerializer(search).data, status=status.HTTP_201_CREATED)


class SearchDetailApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(responses=SearchDetailOutputSerializer)
    def get(self, request, search_id: int):
        return Response(SearchDetailOutputSerializer(_search_or_404(request, search_id)).data)


class SearchCancelApi(APIView):
    api_scope = RUN_SCOPE

    @extend_schema(request=None, responses=SearchOutputSerializer)
    def post(self, request, search_id: int):
        search = searches.search_cancel(search=_search_or_404(request, search_id), actor=actor_of(request))
        return Response(SearchOutputSerializer(search).data)
