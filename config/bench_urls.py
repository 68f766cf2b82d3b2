"""The project's URLs plus bare endpoints for the HTTP benchmark (config.settings.bench only)."""

import time
from datetime import UTC, datetime

from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCounter
from ecode.keys import keyring, subject_hash, subject_keys
from ecode.token import decrypt_subject
from ecode.verifier import VerificationError, verify

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


# The least a check can write: a CodeEvent row for the credential of a member id, in the statement that finds it,
# committed as a verify commits (without waiting for the WAL flush). Columns as the verify's record has them.
_RECORD_SQL = (
    "WITH e AS (INSERT INTO ecode_codeevent (created_at, kind, result, credential_id, person_id, institution_id,"
    " operator_id, api_key_prefix, request_no, subject, kid, token_iat)"
    " SELECT %s, 'verify', 'ok', c.id, c.person_id, %s, %s, %s, '', %s, %s, %s FROM ecode_credential c"
    " WHERE c.member_id = %s RETURNING id)"
    " SELECT e.id, set_config('synchronous_commit', 'off', true) FROM e"
)


class BareRecordApi(BareCounterApi):
    """What the decision on the counter verify (issue 17) requires of any check, done as plainly as it can be,
    as a second floor beside ``bare-query``: the counter's bare endpoint that also checks the code's signature
    against the published keys, opens its subject, and in one statement reads the credential's row and records
    the check. None of the service's rules (refusals, filings, the code's use), no person read, no answer but
    ``{"ok": true}``: what a verify costs beyond this is the service itself."""

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        now = timezone.now()
        try:
            code = verify(data.validated_data["token"], keyring().keyset_at(now), now=time.time())
        except VerificationError as exc:  # refused codes are not what this floor measures: no record
            return Response({"ok": False, "code": exc.code.value}, status=422)
        member_id = decrypt_subject(subject_keys()[0], code.subject)[0]
        operator = request.user
        with connection.cursor() as cursor:
            cursor.execute(
                _RECORD_SQL,
                (
                    now,
                    operator.institution_id,
                    operator.pk,
                    request.auth.prefix,
                    subject_hash(code.subject),
                    code.kid,
                    datetime.fromtimestamp(code.iat, UTC),
                    member_id,
                ),
            )
            cursor.fetchone()
        return Response({"ok": True})


urlpatterns = [
    path("bench/bare", BareApi.as_view()),
    path("bench/bare-counter", BareCounterApi.as_view()),
    path("bench/bare-query", BareQueryApi.as_view()),
    path("bench/bare-record", BareRecordApi.as_view()),
    *project_urlpatterns,
]
