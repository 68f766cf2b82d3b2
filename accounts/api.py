from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ErrorSerializer  # the one "Error" component of the schema
from reference.choices import SCHEME_CODES

from .authentication import BearerTokenAuthentication
from .models import AuthToken
from .permissions import IsInsuredPerson
from .services import user_authenticate
from .tokens import auth_token_issue, auth_token_revoke, user_sign_out_everywhere


class TokenApi(APIView):
    """Sign in with phone and password; returns a bearer token (insured people only)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class TokenInputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=20)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class TokenOutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(
        request=TokenInputSerializer,
        responses={
            200: TokenOutputSerializer,
            400: ErrorSerializer,
            401: OpenApiResponse(description="`invalid_credentials`: wrong phone number or password"),
            403: OpenApiResponse(description="`not_an_insured_person`: staff and counters get no token"),
            429: OpenApiResponse(
                description="`too_many_attempts`: this account or address is locked; see `Retry-After`"
            ),
        },
        auth=[],
    )
    def post(self, request):
        data = self.TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_authenticate(
            request=request, identifier=data.validated_data["phone"], password=data.validated_data["password"]
        )
        return Response({"token": auth_token_issue(user=user)})


class LogoutApi(APIView):
    """Sign out: the bearer token of this request ends (a web session signs out)."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]  # never a counter's key
    permission_classes = [IsInsuredPerson]

    @extend_schema(request=None, responses={204: None, 401: ErrorSerializer, 403: ErrorSerializer})
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            auth_token_revoke(token=request.auth)
        else:
            logout(request._request)
        return Response(status=204)


class LogoutEverywhereApi(APIView):
    """Sign out everywhere: every bearer token and every web session of the caller ends."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]  # never a counter's key
    permission_classes = [IsInsuredPerson]

    @extend_schema(request=None, responses={204: None, 401: ErrorSerializer, 403: ErrorSerializer})
    def post(self, request):
        user_sign_out_everywhere(user=request.user, actor=request.user)
        return Response(status=204)


class MeApi(APIView):
    """The signed-in person's own record, masked."""

    permission_classes = [IsInsuredPerson]

    class MeOutputSerializer(serializers.Serializer):
        name = serializers.CharField(source="masked_name")
        id_number = serializers.CharField(source="masked_id_number")
        phone = serializers.CharField(source="masked_phone")
        insured_region = serializers.CharField(source="insured_region_id")
        insured_region_name = serializers.CharField(source="insured_region.full_name")
        scheme = serializers.CharField()
        scheme_code = serializers.SerializerMethodField()
        retired = serializers.BooleanField()
        status = serializers.CharField()
        language = serializers.CharField()

        def get_scheme_code(self, obj) -> int:
            return SCHEME_CODES[obj.scheme]

    @extend_schema(responses={200: MeOutputSerializer})
    def get(self, request):
        person = request.user.person
        return Response(self.MeOutputSerializer(person).data)
