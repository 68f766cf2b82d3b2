from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsInsuredPerson
from core.db import replica_reads
from core.pagination import Pagination

from .events import EVENT_CHOICES
from .selectors import channel_preference_get, inbox_for_person, unread_count
from .services import channel_preference_update, notification_mark_read, notifications_mark_all_read


class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.ChoiceField(choices=EVENT_CHOICES)
    title = serializers.CharField(source="inbox_message.title")
    body = serializers.CharField(source="inbox_message.body")
    context = serializers.JSONField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    is_read = serializers.BooleanField()


class NotificationListApi(APIView):
    """The signed-in person's inbox, newest first; `?unread=1` for unread only."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={
            200: inline_serializer(
                "NotificationPage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "unread_count": serializers.IntegerField(),
                    "results": NotificationOutputSerializer(many=True),
                },
            )
        },
    )
    @replica_reads()
    def get(self, request):
        person = request.user.person
        unread_only = request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        paginator = Pagination()
        page = paginator.paginate_queryset(
            inbox_for_person(person=person, unread_only=unread_only), request, self
        )
        response = paginator.get_paginated_response(NotificationOutputSerializer(page, many=True).data)
        response.data["unread_count"] = unread_count(person=person)
        return response


class NotificationReadApi(APIView):
    """Marks one of the signed-in person's notifications read."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(request=None, responses={200: NotificationOutputSerializer})
    def post(self, request, notification_id: int):
        notification = notification_mark_read(person=request.user.person, notification_id=notification_id)
        return Response(NotificationOutputSerializer(notification).data)


class NotificationReadAllApi(APIView):
    """Marks all the signed-in person's notifications read."""

    permission_classes = [IsInsuredPerson]

    class ReadAllOutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField()
        unread_count = serializers.IntegerField()

    @extend_schema(request=None, responses={200: ReadAllOutputSerializer})
    def post(self, request):
        person = request.user.person
        marked = notifications_mark_all_read(person=person)
        return Response({"marked": marked, "unread_count": unread_count(person=person)})


class NotificationPreferenceApi(APIView):
    """Which channels the signed-in person is notified on; the in-app inbox always gets a copy."""

    permission_classes = [IsInsuredPerson]

    class PreferenceInputSerializer(serializers.Serializer):
        sms = serializers.BooleanField(required=False)
        wechat = serializers.BooleanField(required=False)
        email = serializers.BooleanField(required=False)

    class PreferenceOutputSerializer(serializers.Serializer):
        inbox = serializers.BooleanField(help_text="Always true: the in-app inbox gets every notification.")
        sms = serializers.BooleanField()
        wechat = serializers.BooleanField()
        email = serializers.BooleanField()
        email_on_file = serializers.BooleanField(help_text="Email is sent only when an address is on file.")

    def _output(self, preference):
        return {
            "inbox": True,
            "sms": preference.sms,
            "wechat": preference.wechat,
            "email": preference.email,
            "email_on_file": bool(preference.person.email),
        }

    @extend_schema(responses={200: PreferenceOutputSerializer})
    def get(self, request):
        return Response(self._output(channel_preference_get(person=request.user.person)))

    @extend_schema(request=PreferenceInputSerializer, responses={200: PreferenceOutputSerializer})
    def put(self, request):
        person = request.user.person
        data = self.PreferenceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        current = channel_preference_get(person=person)
        choice = {
            name: data.validated_data.get(name, getattr(current, name)) for name in ("sms", "wechat", "email")
        }
        return Response(self._output(channel_preference_update(person=person, **choice)))
