"""Contracts API: publish and read contracts, verdicts and what-if jobs.

Reads need the `read` scope; publishing, re-checking and what-if jobs need `admin`.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.contracts import selectors, services, whatif
from apps.contracts.models import Contract, ContractVersion, Verdict, WhatIfJob
from apps.core.api import PageNumberPagination, paginated_response
from apps.tenancy.actors import actor_of
from apps.traces.models import Episode


class ContractsApiView(APIView):
    # reads need `read`; writes `admin` (publishing and re-checking govern the whole project)
    api_scope = ("read", "admin")

    def paginate(self, request, qs, serializer):
        return paginated_response(request, self, qs, lambda page: serializer(page, many=True).data)

    def episode_or_404(self, request, external_id: str) -> Episode:
        episode = Episode.objects.filter(project=request.auth.project, external_id=external_id).first()
        if episode is None:
            raise exceptions.NotFound(f"No episode with external id '{external_id}' in this project.")
        return episode


class VersionOutputSerializer(serializers.ModelSerializer):
    contract = serializers.CharField(source="contract.name")

    class Meta:
        model = ContractVersion
        fields = ["contract", "number", "digest", "severity", "runtime", "created_by", "created_at", "source"]


class ContractOutputSerializer(serializers.ModelSerializer):
    current = VersionOutputSerializer(source="in_force", allow_null=True)

    class Meta:
        model = Contract
        fields = ["name", "description", "enabled", "current", "created_at", "updated_at"]


class VerdictOutputSerializer(serializers.ModelSerializer):
    episode = serializers.CharField(source="episode.external_id")
    contract = serializers.CharField(source="version.contract.name")
    version = serializers.IntegerField(source="version.number")
    digest = serializers.CharField(source="version.digest")

    class Meta:
        model = Verdict
        fields = ["episode", "contract", "version", "digest", "status", "first_violating_step", "evidence",
                  "steps_checked", "at_runtime", "checked_at"]


class ContractListApi(ContractsApiView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ContractPublishInput"

        source = serializers.CharField(trim_whitespace=False)

    @extend_schema(responses=ContractOutputSerializer(many=True))
    def get(self, request):
        qs = selectors.contract_list(project=request.auth.project).select_related("in_force__contract")
        return self.paginate(request, qs, ContractOutputSerializer)

    @extend_schema(request=InputSerializer, responses=VersionOutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version, changed = services.contract_publish(
            project=request.auth.project, source=data.validated_data["source"], actor=actor_of(request)
        )
        body = {**VersionOutputSerializer(version).data, "changed": changed}
        return Response(body, status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK)


class ContractValidateApi(ContractsApiView):
    """Compiles a source without publishing: 200 with the digest, or 400 naming field and line."""

    api_scope = "read"  # a check, not a change

    @extend_schema(request=ContractListApi.InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = ContractListApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parsed = services.contract_validate(source=data.validated_data["source"])
        return Response({"name": parsed.name, "digest": parsed.digest, "severity": parsed.severity,
                         "runtime": parsed.runtime, "rules": [r.name for r in parsed.rules]})


class ContractDetailApi(ContractsApiView):
    @extend_schema(responses=ContractOutputSerializer)
    def get(self, request, name: str):
        contract = selectors.contract_get(project=request.auth.project, name=name)
        if contract is None:
            raise exceptions.NotFound(f"No contract '{name}' in this project.")
        body = ContractOutputSerializer(contract).data
        body["versions"] = VersionOutputSerializer(contract.versions.order_by("-number"), many=True).data
        return Response(body)


class VerdictListApi(ContractsApiView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    @extend_schema(parameters=[OpenApiParameter(f, str) for f in ("episode", "contract", "status", "version")],
                   responses=VerdictOutputSerializer(many=True))
    def get(self, request):
        qs = selectors.verdict_list(project=request.auth.project, filters=request.query_params)
        return self.paginate(request, qs, VerdictOutputSerializer)


class EpisodeCheckApi(ContractsApiView):
    """Re-checks one episode now against the active contracts and returns its verdicts."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ContractCheckInput"

        episode = serializers.CharField(max_length=200)

    @extend_schema(request=InputSerializer, responses=inline_serializer(
        "EpisodeCheckOutput", {"results": VerdictOutputSerializer(many=True)}))
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        episode = self.episode_or_404(request, data.validated_data["episode"])
        rows = services.episode_check(episode=episode)
        return Response({"results": VerdictOutputSerializer(rows, many=True).data})


class WhatIfOutputSerializer(serializers.ModelSerializer):
    baseline = serializers.SerializerMethodField()
    progress = serializers.IntegerField()

    class Meta:
        model = WhatIfJob
        fields = ["id", "kind", "contract_name", "candidate_digest", "baseline", "filters", "last", "status",
                  "total", "done", "progress", "changed", "summary", "results", "error", "cancel_requested",
                  "created_by", "created_at", "started_at", "finished_at"]

    def get_baseline(self, job) -> dict | None:
        return {"number": job.baseline.number, "digest": job.baseline.digest} if job.baseline else None


class WhatIfListApi(ContractsApiView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WhatIfCreateInput"

        kind = serializers.ChoiceField(choices=[WhatIfJob.KIND_CONTRACT, WhatIfJob.KIND_POLICY], default="contract")
        source = serializers.CharField(max_length=200_000, required=False, trim_whitespace=False)
        contract = serializers.CharField(max_length=100, required=False)
        version = serializers.CharField(max_length=64, required=False)
        filters = serializers.DictField(required=False)
        last = serializers.IntegerField(required=False, min_value=1, max_value=100_000)

    @extend_schema(responses=WhatIfOutputSerializer(many=True))
    def get(self, request):
        return self.paginate(request, selectors.whatif_list(project=request.auth.project), WhatIfOutputSerializer)

    @extend_schema(request=InputSerializer, responses={202: WhatIfOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = whatif.whatif_create(project=request.auth.project, actor=actor_of(request), **data.validated_data)
        job.refresh_from_db()
        return Response(WhatIfOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class WhatIfDetailApi(ContractsApiView):
    def job_or_404(self, request, job_id: int) -> WhatIfJob:
        job = selectors.whatif_get(project=request.auth.project, job_id=job_id)
        if job is None:
            raise exceptions.NotFound(f"No what-if job {job_id} in this project.")
        return job

    @extend_schema(responses=WhatIfOutputSerializer)
    def get(self, request, job_id: int):
        return Response(WhatIfOutputSerializer(self.job_or_404(request, job_id)).data)


class WhatIfCancelApi(WhatIfDetailApi):
    @extend_schema(request=None, responses=WhatIfOutputSerializer)
    def post(self, request, job_id: int):
        job = whatif.whatif_cancel(job=self.job_or_404(request, job_id))
        return Response(WhatIfOutputSerializer(job).data)
