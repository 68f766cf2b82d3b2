from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from reference.choices import SCHEME_CODES

from .permissions import IsInsuredPerson
from .services import auth_token_issue, user_authenticate


class TokenApi(APIView):
    """Sign in with phone and password; returns a bearer token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class TokenInputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=20)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class TokenOutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(request=TokenInputSerializer, responses={200: TokenOutputSerializer}, auth=[])
    def post(self, request):
        data = self.TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_authenticate(
            request=request, identifier=data.validated_data["phone"], password=data.validated_data["password"]
        )
        return Response({"token": auth_token_issue(user=user)})


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
