from django.urls import path

from .api import NotificationListApi, NotificationPreferenceApi, NotificationReadAllApi, NotificationReadApi

urlpatterns = [
    path("notifications/", NotificationListApi.as_view(), name="notifications"),
    path("notifications/read-all", NotificationReadAllApi.as_view(), name="notifications-read-all"),
    path("notifications/preferences", NotificationPreferenceApi.as_view(), name="notification-preferences"),
    path("notifications/<int:notification_id>/read", NotificationReadApi.as_view(), name="notification-read"),
]
