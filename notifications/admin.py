from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import AuditEventInline, LargeTableAdminMixin
from core.errors import ServiceError

from .choices import DeliveryStatus
from .events import EVENT_CHOICES
from .models import ChannelPreference, Delivery, Notification
from .services import delivery_retry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: admin looks, and acts through actions."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "status", "attempts", "last_error", "next_attempt_at", "sent_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class EventFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        return EVENT_CHOICES

    def queryset(self, request, queryset):
        return queryset.filter(notification__event=self.value()) if self.value() else queryset


@admin.register(Notification)
class NotificationAdmin(LargeTableAdminMixin, ReadOnlyAdmin):
    # The person is shown by __str__ (masked name and ID number); no personal data is stored on the row.
    list_display = ("id", "created_at", "event", "person", "read_at")
    list_filter = ("event", ("read_at", admin.EmptyFieldListFilter))
    list_select_related = ("person",)
    search_fields = ("=id",)
    fields = ("id", "person", "event", "context", "created_at", "read_at")
    readonly_fields = fields
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(LargeTableAdminMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "event",
        "channel",
        "status",
        "attempts",
        "short_error",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("status", "channel", EventFilter)
    list_select_related = ("notification",)
    search_fields = ("=id", "=notification__id", "=provider_message_id")
    fields = (
        "id",
        "notification",
        "channel",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "provider_message_id",
        "created_at",
    )
    readonly_fields = fields
    actions = ["retry"]
    inlines = [AuditEventInline]

    @admin.display(description=_("event"), ordering="notification__event")
    def event(self, obj: Delivery) -> str:
        return obj.notification.get_event_display()

    @admin.display(description=_("last error"))
    def short_error(self, obj: Delivery) -> str:
        return obj.last_error[:80]

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_delivery") or request.user.is_superuser

    @admin.action(description=_("Retry the selected failed deliveries"), permissions=["retry"])
    def retry(self, request, queryset):
        retried = skipped = 0
        for delivery in queryset.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.PENDING]):
            try:
                delivery_retry(delivery=delivery, actor=request.user)
            except ServiceError:
                skipped += 1
            else:
                retried += 1
        skipped += queryset.exclude(status__in=[DeliveryStatus.FAILED, DeliveryStatus.PENDING]).count()
        if retried:
            self.message_user(
                request,
                ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", retried)
                % {"count": retried},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was skipped: only failed or pending ones can be retried.",
                    "%(count)d deliveries were skipped: only failed or pending ones can be retried.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(ReadOnlyAdmin):
    list_display = ("person", "sms", "wechat", "email", "updated_at")
    list_filter = ("sms", "wechat", "email")
    list_select_related = ("person",)
    fields = ("person", "sms", "wechat", "email", "updated_at")
    readonly_fields = fields
