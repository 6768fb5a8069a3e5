"""Bindings API: which policy governs which agents and environments (read scope lists, admin edits)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.policies import selectors, services
from apps.policies.models import Policy, PolicyBinding
from apps.tenancy.actors import actor_of


class BindingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    policy = serializers.CharField(source="policy.name")
    agent = serializers.CharField()
    environment = serializers.CharField()
    priority = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class BindingListApi(APIView):
    """GET: the project's bindings, highest priority first. POST (admin scope): bind a policy to agent
    and environment globs, replacing the binding of that same scope."""

    api_scope = ("decide|read", "admin")

    @extend_schema_serializer(component_name="BindingInput")
    class InputSerializer(serializers.Serializer):
        policy = serializers.SlugField(max_length=100)
        agent = serializers.CharField(max_length=200, required=False, default="*")
        environment = serializers.CharField(max_length=200, required=False, default="*")
        priority = serializers.IntegerField(required=False, default=0, min_value=-1000, max_value=1000)

    @extend_schema(responses=BindingOutputSerializer(many=True))
    def get(self, request):
        bindings = selectors.binding_list(project=request.auth.project)
        return Response(BindingOutputSerializer(bindings, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: BindingOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        policy = Policy.objects.filter(project=request.auth.project, name=v["policy"]).first()
        if policy is None:
            raise serializers.ValidationError({"policy": [f"No policy '{v['policy']}' in this project."]})
        binding = services.binding_set(project=request.auth.project, policy=policy, agent=v["agent"],
                                       environment=v["environment"], priority=v["priority"], actor=actor_of(request))
        return Response(BindingOutputSerializer(binding).data, status=status.HTTP_201_CREATED)


class BindingDetailApi(APIView):
    """DELETE (admin scope): remove a binding; the agents it covered fall to the next one that matches."""

    api_scope = "admin"

    @extend_schema(responses={204: None})
    def delete(self, request, binding_id: int):
        binding = get_object_or_404(PolicyBinding.objects.select_related("policy"), project=request.auth.project,
                                    pk=binding_id)
        services.binding_remove(binding=binding, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
