"""Reading a person's notifications (for the API and the web inbox page)."""

from django.db.models import QuerySet

from .models import ChannelPreference, Notification


def inbox_for_person(*, person, unread_only: bool = False) -> QuerySet[Notification]:
    """The person's inbox, newest first; each row's `inbox_message` gives its title and body."""
    notifications = Notification.objects.filter(person=person).select_related("person__user")
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def unread_count(*, person) -> int:
    return Notification.objects.filter(person=person, read_at__isnull=True).count()


def channel_preference_get(*, person) -> ChannelPreference:
    """The person's channel preference (the defaults, unsaved, when they never chose)."""
    return ChannelPreference.objects.filter(person=person).first() or ChannelPreference(person=person)
