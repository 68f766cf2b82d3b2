"""Admin pieces every app uses: the audit history shown under an object, the audit log, compact dates."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .audit import audit_action_words, audit_change_words
from .models import AuditEvent


def compact_datetime(value: dt.datetime | None) -> str:
    """A time as a short column value ("12-01 09:58", with the year when it is not this year); the full date and
    time in the tooltip."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    short = local.strftime("%m-%d %H:%M" if local.year == timezone.localdate().year else "%Y-%m-%d")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        date_format(local, "DATETIME_FORMAT"),
        short,
    )


def compact_date(value: dt.date | None) -> str:
    """A date as a short column value ("12-15", with the year when it is not this year)."""
    if value is None:
        return "—"
    short = value.strftime("%m-%d" if value.year == timezone.localdate().year else "%Y-%m-%d")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), date_format(value), short
    )


def audit_actor_words(event: AuditEvent) -> str:
    """Who acted, in words: the person themselves, the system, a terminal, or the staff account's name."""
    label = event.actor_label
    if getattr(event.actor, "is_person", False):
        return str(_("The insured person"))
    if label == "system" or (not label and event.actor_id is None):
        return str(_("System"))
    if label.startswith("api-key:"):
        return str(_("Terminal %(prefix)s") % {"prefix": label.partition(":")[2]})
    return label


class AuditEventInline(GenericTabularInline):
    """Read-only audit history shown under the object it concerns, in words."""

    model = AuditEvent
    ct_field = "target_type"
    ct_fk_field = "target_id"
    extra = 0
    can_delete = False
    fields = ("created_at", "who", "event", "change", "reason")
    readonly_fields = fields
    ordering = ("created_at",)
    verbose_name = _("audit event")
    verbose_name_plural = _("history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "target_type")

    @admin.display(description=_("by"))
    def who(self, obj):
        return audit_actor_words(obj)

    @admin.display(description=_("event"))
    def event(self, obj):
        return audit_action_words(obj.action)

    @admin.display(description=_("state"))
    def change(self, obj):
        return audit_change_words(obj) or "—"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "event", "target", "change")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "target_id", "action")
    date_hierarchy = "created_at"
    list_select_related = ("target_type",)

    @admin.display(description=_("event"), ordering="action")
    def event(self, obj):
        return audit_action_words(obj.action)

    @admin.display(description=_("state"))
    def change(self, obj):
        return audit_change_words(obj) or "—"

    @admin.display(description=_("object"))
    def target(self, obj):
        model = obj.target_type.model_class()
        return f"{model._meta.verbose_name if model else obj.target_type} {obj.target_id}"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return request.user.is_superuser
