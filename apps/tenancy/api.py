from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenancy import selectors, services
from apps.tenancy.actors import actor_of
from apps.tenancy.models import Role


class WhoAmIApi(APIView):
    """Tells a runtime which project and scopes its key carries: a cheap way to check a key."""

    class OutputSerializer(serializers.Serializer):
        project = serializers.CharField()
        key = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())
        expires_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        key = request.auth
        data = {"project": key.project.slug, "key": key.display, "scopes": key.scopes, "expires_at": key.expires_at}
        return Response(self.OutputSerializer(data).data)


@extend_schema_serializer(component_name="Member")
class MemberOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=[services.MEMBER, services.INVITED],
                                     help_text="member, or invited (joins when an account of that name signs in).")


@extend_schema_serializer(component_name="MemberList")
class MemberListSerializer(serializers.Serializer):
    results = MemberOutputSerializer(many=True)


class MemberListApi(APIView):
    """The project's members and invitations (admin scope). Adding a username that is not a member
    invites it, with the same answer whether or not an account has that name."""

    api_scope = "admin"

    @extend_schema_serializer(component_name="MemberAddInput")
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(responses=MemberListSerializer)
    def get(self, request):
        project = request.auth.project
        results = [{"username": m.user.username, "role": m.role, "status": services.MEMBER}
                   for m in selectors.membership_list(project=project)]
        results += [{"username": i.username, "role": i.role, "status": services.INVITED}
                    for i in selectors.invitation_list(project=project)]
        return Response({"results": results})

    @extend_schema(request=InputSerializer, responses={200: MemberOutputSerializer, 202: MemberOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            added = services.member_add(project=request.auth.project, actor=actor_of(request), **data.validated_data)
        except ValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        body = {**data.validated_data, "username": data.validated_data["username"].strip(), "status": added}
        return Response(body, status=status.HTTP_202_ACCEPTED if added == services.INVITED else status.HTTP_200_OK)
