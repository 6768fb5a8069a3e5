"""Approvals API: chat-ops integrations list pending asks and answer them with a `review`-scoped key.

An answer through the API is the same service call as the Approvals page's, so it writes the same
`approval.answered` log entry (its actor is the key, `key:<name>`).
"""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import error_response
from apps.policies import approvals, selectors
from apps.policies.api import DecisionOutputSerializer, decision_data
from apps.policies.models import Approval, DecisionStatus
from apps.tenancy.actors import actor_of


def approval_data(approval: Approval, *, reviewer: bool = False) -> dict:
    """`reviewer`: the caller may answer (a `review`-scoped key), so a pending ask's sensitive
    values are given in clear (`clear_arguments`); everyone else gets only the masks."""
    pending = approval.status == DecisionStatus.PENDING
    return {
        "decision": decision_data(approval.decision), "status": approval.status, "default": approval.default,
        "deadline": approval.deadline.isoformat(), "answered_at": approval.answered_at.isoformat()
        if approval.answered_at else None, "answered_by": approval.answered_by.username if approval.answered_by else None,
        "note": approval.note, "clear_arguments": (approval.clear_arguments or {}) if reviewer and pending else {},
    }


@extend_schema_serializer(component_name="Approval")
class ApprovalOutputSerializer(serializers.Serializer):
    decision = DecisionOutputSerializer()
    status = serializers.ChoiceField(choices=DecisionStatus.choices)
    default = serializers.CharField()
    deadline = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    answered_by = serializers.CharField(allow_null=True)
    note = serializers.CharField(allow_blank=True)
    clear_arguments = serializers.DictField(
        help_text="A pending ask's sensitive arguments in clear, for a key with the `review` scope only "
                  "(the decision's `arguments` hold their masks); empty otherwise.")


@extend_schema_serializer(component_name="ApprovalList")
class ApprovalListSerializer(serializers.Serializer):
    results = ApprovalOutputSerializer(many=True)


class ApprovalListApi(APIView):
    """Asks waiting for a reviewer (`?status=pending`, the default) or recently answered (`answered`)."""

    api_scope = "review|read"

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=["pending", "answered"])],
                   responses=ApprovalListSerializer)
    def get(self, request):
        project = request.auth.project
        wanted = request.query_params.get("status", "pending")
        if wanted not in ("pending", "answered"):
            raise serializers.ValidationError({"status": ["pending or answered"]})
        found = selectors.approval_queue(project=project) if wanted == "pending" else selectors.approval_recent(
            project=project, limit=100)
        reviewer = request.auth.has_scope("review")
        return Response({"results": [approval_data(a, reviewer=reviewer) for a in found]})


class ApprovalAnswerApi(APIView):
    """Approve or deny one pending ask (`review` scope). 409 once it was answered or its deadline passed."""

    api_scope = "review"

    @extend_schema_serializer(component_name="ApprovalAnswerInput")
    class InputSerializer(serializers.Serializer):
        approve = serializers.BooleanField(help_text="true approves the call, false denies it.")
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=ApprovalOutputSerializer)
    def post(self, request, decision_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = get_object_or_404(Approval, project=request.auth.project, pk=decision_id)
        try:
            approval = approvals.approval_answer(approval=approval, approve=data.validated_data["approve"],
                                                 actor=actor_of(request), note=data.validated_data["note"])
        except ValidationError as exc:
            return error_response(409, "approval_closed", " ".join(exc.messages))
        approval = Approval.objects.select_related("decision__episode", "answered_by").get(pk=approval.pk)
        return Response(approval_data(approval))
