"""The project's URLs plus bare endpoints for the HTTP benchmark (config.settings.bench only)."""

from django.db import connection
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCounter

from .urls import urlpatterns as project_urlpatterns


class BareApi(APIView):
    """The least a DRF endpoint does: parse a JSON body and answer JSON, no authentication, no database."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField()

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"ok": True})


class BareCounterApi(BareApi):
    """A bare endpoint behind the counter's authentication (API key, one query) and permission."""

    authentication_classes = APIView.authentication_classes
    permission_classes = [IsCounter]


class BareQueryApi(BareCounterApi):
    """The counter's bare endpoint plus one trivial query: what any endpoint that touches the database pays."""

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return super().post(request)


urlpatterns = [
    path("bench/bare", BareApi.as_view()),
    path("bench/bare-counter", BareCounterApi.as_view()),
    path("bench/bare-query", BareQueryApi.as_view()),
    *project_urlpatterns,
]
