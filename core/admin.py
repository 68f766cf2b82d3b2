"""Admin pieces every app uses: the audit history shown under an object, the audit log, compact dates; and the
record of the months archived out of the partitioned tables."""

from __future__ import annotations

import datetime as dt
import json
from typing import cast

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .audit import ACTION_WORDS, audit_action_words, audit_change_words
from .models import AuditEvent, PartitionArchive


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


class EstimatedCountPaginator(Paginator):
    """Pages of a large table. On PostgreSQL the total is exact up to ``exact_up_to`` rows (a count that stops
    there) and beyond it the planner's estimate of the query's rows (an EXPLAIN, which reads no rows): the same
    two queries at any size, and never a count of the whole table. Elsewhere (SQLite) the exact count."""

    exact_up_to = 1_000

    @cached_property
    def count(self) -> int:
        queryset = cast(QuerySet, self.object_list)
        connection = connections[getattr(queryset, "db", "default")]
        if connection.vendor != "postgresql" or not hasattr(queryset, "query"):
            return super().count
        rows = queryset.order_by().values("pk")
        try:
            sql, params = rows.query.sql_with_params()
        except EmptyResultSet:  # a filter that matches nothing, decided without asking the database
            return 0
        # In the list's order, so that the index that serves the page serves the count.
        bounded = queryset.values("pk")[: self.exact_up_to + 1].count()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if bounded <= self.exact_up_to:
            return bounded
        plan = plan if isinstance(plan, list) else json.loads(plan)
        return max(int(plan[0]["Plan"]["Plan Rows"]), bounded)


class RecentPeriodFilter(admin.SimpleListFilter):
    """The time range of a large table's changelist; the last month unless another range is picked, so that no
    page reads the whole table (the tables are partitioned by month on PostgreSQL)."""

    title = _("period")
    parameter_name = "period"
    DEFAULT = "month"
    DAYS = {"day": 1, "week": 7, "month": 31, "year": 366}

    def __init__(self, request, params, model, model_admin):
        self.field = model_admin.recent_field
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [
            ("day", _("Last 24 hours")),
            ("week", _("Last 7 days")),
            ("month", _("Last month")),
            ("year", _("Last 12 months")),
        ]

    def value(self):
        value = super().value()
        return value if value in self.DAYS else self.DEFAULT

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        since = timezone.now() - dt.timedelta(days=self.DAYS[self.value()])
        return queryset.filter(**{f"{self.field}__gte": since})


class LargeTableAdminMixin:
    """A changelist over a table that grows by millions of rows a day: no full count (an estimated total), no
    date drill-down, filters only from fixed choices or reference tables, and the last month by default."""

    recent_field = "created_at"
    show_full_result_count = False
    # Counts beside each filter's choices would count the table once per choice.
    show_facets = admin.ShowFacets.NEVER
    paginator: type[Paginator] = EstimatedCountPaginator
    date_hierarchy: str | None = None

    def get_list_filter(self, request):
        return (RecentPeriodFilter, *super().get_list_filter(request))


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


class AuditActionFilter(admin.SimpleListFilter):
    """The audit actions the code knows, in words (a fixed list: no scan of the trail for its values)."""

    title = _("event")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(((action, words) for action, words in ACTION_WORDS.items()), key=lambda c: str(c[1]))

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class AuditTargetTypeFilter(admin.SimpleListFilter):
    """The kind of object an audit row concerns, from the content types (a reference table)."""

    title = _("object")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        types = ContentType.objects.order_by("app_label", "model")
        return [(str(ct.pk), str(ct)) for ct in types]

    def queryset(self, request, queryset):
        return queryset.filter(target_type_id=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "event", "target", "change")
    list_filter = (AuditActionFilter, AuditTargetTypeFilter)
    # Exact object ids only: a substring search would read every row of the period.
    search_fields = ("=target_id",)
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


@admin.register(PartitionArchive)
class PartitionArchiveAdmin(admin.ModelAdmin):
    """Which file holds which retired month, and what to check it against; written only by the retirement."""

    list_display = ("table", "month_shown", "rows", "size_shown", "sha256_prefix", "retired_at")
    list_filter = ("table",)
    search_fields = ("=partition",)
    inlines = [AuditEventInline]

    @admin.display(description=_("month"), ordering="month")
    def month_shown(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("size"), ordering="size")
    def size_shown(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description=_("SHA-256"))
    def sha256_prefix(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:12])

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
