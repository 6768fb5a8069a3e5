"""Policy API: /decide for runtimes (`decide` scope), decisions long-poll, narrowing, publishing (admin)."""

import time

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PageNumberPagination, paginated_response
from apps.policies import approvals, decide_request, decisions, engine, narrowings, selectors, services
from apps.policies.models import Decision, DecisionStatus
from apps.policies.records import DecideInput
from apps.tenancy import idempotency
from apps.tenancy.actors import actor_name, actor_of
from apps.traces import schema as trace_schema
from apps.traces.http import step_conflict_response
from apps.traces.services import StepConflict

MAX_WAIT_SECONDS = 30
POLL_SECONDS = 0.2


class DecisionOutputSerializer(serializers.Serializer):
    decision_id = serializers.IntegerField(source="pk")
    episode = serializers.CharField(source="episode.external_id")
    step_index = serializers.IntegerField(allow_null=True)
    agent = serializers.CharField()
    kind = serializers.CharField(help_text="tool, or message (then `tool` is the message's recipient).")
    tool = serializers.CharField()
    verdict = serializers.CharField()
    outcome = serializers.CharField(help_text="What to do now: the verdict, or for an ask once answered "
                                              "allow/block/terminate (ask while pending).")
    status = serializers.CharField()
    arguments = serializers.JSONField(source="final_arguments")
    message = serializers.CharField()
    rule = serializers.CharField(allow_null=True)
    policy = serializers.CharField(source="policy_digest", allow_null=True)
    deadline = serializers.SerializerMethodField()
    answered_by = serializers.CharField(allow_null=True, help_text="An ask's reviewer (username, or key:<name>).")
    answered_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(help_text="The reviewer's note on an answered ask, else empty.")
    created_at = serializers.DateTimeField()

    def get_deadline(self, obj: Decision) -> str | None:
        approval = getattr(obj, "approval", None) if obj.verdict == "ask" else None
        return approval.deadline.isoformat() if approval else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["rule"] = data["rule"] or None
        data["policy"] = data["policy"] or None
        return data


def _answer(d: Decision, approval) -> dict:
    """Who settled an ask (a username, `key:<name>` or "timeout"), when, and the reviewer's note:
    what the runtime's long-poll waits for."""
    if approval is None or approval.answered_at is None:
        return {"answered_by": None, "answered_at": None, "note": ""}
    return {"answered_by": (d.evidence or {}).get("answered_by"),
            "answered_at": approval.answered_at.isoformat().replace("+00:00", "Z"), "note": approval.note}


def decision_data(d: Decision) -> dict:
    """The DecisionOutputSerializer shape, built directly: /decide returns it on every call."""
    approval = getattr(d, "approval", None) if d.verdict == "ask" else None
    return {
        "decision_id": d.pk, "episode": d.episode.external_id, "step_index": d.step_index, "agent": d.agent,
        "kind": d.kind, "tool": d.tool, "verdict": d.verdict, "outcome": d.outcome, "status": d.status,
        "arguments": d.final_arguments, "message": d.message, "rule": d.rule or None,
        "policy": d.policy_digest or None, "deadline": approval.deadline.isoformat() if approval else None,
        **_answer(d, approval), "created_at": d.created_at.isoformat().replace("+00:00", "Z"),
    }


@extend_schema_serializer(component_name="DecideContext")
class DecideContextSerializer(serializers.Serializer):
    untrusted = serializers.BooleanField(required=False, default=False,
                                         help_text="Untrusted content has been read in this episode.")
    environment = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"untrusted", "environment"})
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [f"Unknown context key '{unknown[0]}'; use untrusted, environment."]}
                )
        return super().to_internal_value(data)


class DecideCommonSerializer(serializers.Serializer):
    """What a tool call's and a message's decision input share."""

    episode = serializers.CharField(max_length=200)
    agent = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    step_index = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                          max_value=trace_schema.MAX_INDEX)
    context = serializers.DictField(required=False, default=dict)
    idempotency_key = serializers.CharField(
        required=False, max_length=idempotency.MAX_KEY,
        help_text="Instead of the Idempotency-Key header: a retry under the same key gets the first answer.")

    def validate_context(self, value):
        ctx = DecideContextSerializer(data=value)
        ctx.is_valid(raise_exception=True)
        return ctx.validated_data


def _decided(request, v: dict, *, tool: str, arguments: dict, kind: str = engine.TOOL) -> Response:
    """Runs the decision service for a validated tool call or message and renders the answer."""
    ctx = v["context"]
    data = DecideInput(episode=v["episode"], agent=v["agent"], tool=tool, arguments=arguments, kind=kind,
                       step_index=v.get("step_index"), untrusted=ctx.get("untrusted", False),
                       environment=ctx.get("environment") or None)
    key = idempotency.key_read(request, request.data.get(idempotency.FIELD))
    if key is not None:
        data.idempotency = idempotency.Claim(request.auth.project.id, request.auth.pk, key, data.fingerprint())
    try:
        decision = decisions.decision_make(project=request.auth.project, data=data, actor=actor_name(actor_of(request)))
    except StepConflict as exc:
        return step_conflict_response(exc.index)
    except trace_schema.InvalidInput as exc:
        raise exceptions.ValidationError({exc.field.split(".")[-1]: [exc.message]}) from None
    return Response(decision_data(decision))


class DecideApi(APIView):
    """Decide one tool call before it runs. Every decision is stored and appended to the episode."""

    api_scope = "decide"

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            response = decide_request.decide(request, decision_data)
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    @extend_schema_serializer(component_name="DecideInput")
    class InputSerializer(DecideCommonSerializer):
        tool = serializers.CharField(max_length=200)
        arguments = serializers.DictField(required=False, default=dict)

    @extend_schema(request=InputSerializer, responses=DecisionOutputSerializer, parameters=[idempotency.OPENAPI_HEADER])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return _decided(request, v, tool=v["tool"], arguments=v["arguments"])


class DecideMessageApi(APIView):
    """Decide an outgoing message before it is sent: same verdicts, evidence and log as a tool call."""

    api_scope = "decide"

    @extend_schema_serializer(component_name="DecideMessageInput")
    class InputSerializer(DecideCommonSerializer):
        content = serializers.CharField(max_length=trace_schema.MAX_CONTENT_CHARS, trim_whitespace=False,
                                        allow_blank=True)
        to = serializers.CharField(max_length=200, required=False, default="user",
                                   help_text="The recipient: user (the default) or an agent's name.")

    @extend_schema(request=InputSerializer, responses=DecisionOutputSerializer, parameters=[idempotency.OPENAPI_HEADER])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return _decided(request, v, tool=v["to"], arguments={"content": v["content"], "to": v["to"]},
                        kind=engine.MESSAGE)


class DecisionDetailApi(APIView):
    """One decision. `?wait=N` (seconds, at most 30) long-polls a pending ask until it is answered."""

    api_scope = "decide|read"

    @extend_schema(parameters=[OpenApiParameter("wait", int)], responses=DecisionOutputSerializer)
    def get(self, request, decision_id: int):
        project = request.auth.project
        try:
            wait = float(request.query_params.get("wait") or 0)
        except ValueError:
            raise exceptions.ValidationError({"wait": ["Seconds to wait, a number between 0 and 30."]}) from None
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise exceptions.ValidationError({"wait": [f"Seconds to wait, between 0 and {MAX_WAIT_SECONDS}."]})
        deadline = time.monotonic() + wait
        while True:
            decision = selectors.decision_get(project=project, decision_id=decision_id)
            if decision is None:
                raise exceptions.NotFound(f"No decision {decision_id} in this project.")
            if decision.status == DecisionStatus.PENDING and decision.approval.deadline <= timezone.now():
                if approvals.approvals_expire_due(project=project):
                    continue  # re-read the decision with the default applied
            if decision.status != DecisionStatus.PENDING or time.monotonic() >= deadline:
                return Response(decision_data(decision))
            time.sleep(POLL_SECONDS)


class DecisionListApi(APIView):
    pagination_class = PageNumberPagination  # the schema documents the page envelope
    api_scope = "decide|read"

    @extend_schema(parameters=[OpenApiParameter(n, str) for n in ("verdict", "agent", "tool", "status", "episode")],
                   responses=DecisionOutputSerializer(many=True))
    def get(self, request):
        qs = selectors.decision_list(project=request.auth.project, filters=request.query_params)
        return paginated_response(request, self, qs.select_related("approval"),
                                  lambda page: [decision_data(d) for d in page])


class NarrowApi(APIView):
    """Narrows the policy for one running episode (Progent-style dynamic update; never widens)."""

    api_scope = "decide"

    @extend_schema_serializer(component_name="NarrowInput")
    class InputSerializer(serializers.Serializer):
        episode = serializers.CharField(max_length=200)
        policy = serializers.CharField(max_length=200_000, help_text="YAML or JSON text of the overlay.")

    @extend_schema(request=InputSerializer, responses={200: dict})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        guard = narrowings.narrowing_add(project=request.auth.project, episode_external_id=data.validated_data["episode"],
                                        source=data.validated_data["policy"])
        return Response({"episode": data.validated_data["episode"],
                         "narrowings": [n["digest"] for n in guard.narrowings]})


class PolicyOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    active_version = serializers.IntegerField(source="in_force.number", allow_null=True, default=None)
    active_digest = serializers.CharField(source="in_force.digest", allow_null=True, default=None)
    updated_at = serializers.DateTimeField()


class PolicyListApi(APIView):
    api_scope = "decide|read"

    @extend_schema(responses=PolicyOutputSerializer(many=True))
    def get(self, request):
        return Response(PolicyOutputSerializer(selectors.policy_list(project=request.auth.project), many=True).data)


class PolicyPublishApi(APIView):
    """Publishes a version (admin scope). Its test cases must pass; a failure names the case and line."""

    api_scope = "admin"

    @extend_schema_serializer(component_name="PolicyPublishInput")
    class InputSerializer(serializers.Serializer):
        source = serializers.CharField(max_length=500_000, trim_whitespace=False)
        name = serializers.SlugField(max_length=100, required=False)
        description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
        activate = serializers.BooleanField(required=False, default=True)

    @extend_schema_serializer(component_name="PolicyVersionOutput")
    class OutputSerializer(serializers.Serializer):
        policy = serializers.CharField(source="policy.name")
        version = serializers.IntegerField(source="number")
        digest = serializers.CharField()
        rule_count = serializers.IntegerField()
        test_count = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.policy_publish(project=request.auth.project, actor=actor_of(request), **data.validated_data)
        return Response(self.OutputSerializer(version).data, status=status.HTTP_201_CREATED)
