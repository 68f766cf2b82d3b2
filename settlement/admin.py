"""Admin for the rules (catalogues, policies), settlements, clearing between provinces and supervision flags.

Reviewers see and edit only their own pooling area's policies and see only their insured area's settlements.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import IdentityKind
from accounts.person_search import PersonSearchMixin
from accounts.scopes import AreaScopedMixin, scope, staff_area
from core.admin import AuditEventInline, LargeTableAdminMixin, compact_datetime
from core.errors import ServiceError
from reference.choices import RegionLevel
from reference.models import Institution, Region
from reference.services import ImportFailed

from .choices import ClearingStatus, FlagKind, FlagStatus
from .models import (
    Accumulator,
    AssistanceRule,
    Catalogue,
    CatalogueItem,
    ClearingLine,
    ClearingStatement,
    CriticalIllnessTier,
    DiseaseLimit,
    PersonalAccount,
    Policy,
    PolicyRate,
    Prepayment,
    Settlement,
    SettlementCorrection,
    SettlementLine,
    SupervisionFlag,
)
from .selectors import clearing_balances, owed_for_direction, prepaid_for, settlements_for_reviewer
from .services import (
    CATALOGUE_COLUMNS,
    catalogue_export,
    catalogue_import,
    clearing_build,
    clearing_confirm,
    clearing_export,
    flag_review,
    month_start,
    policy_save,
    prepayment_save,
    previous_month,
)


class _ProvinceFilter(admin.SimpleListFilter):
    """A province column that holds a code, shown by the province's name; the choices come from the region
    table, never from the settlements (which would read them all)."""

    def lookups(self, request, model_admin):
        return list(Region.objects.filter(level=RegionLevel.PROVINCE).values_list("code", "name"))

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class InsuredProvinceFilter(_ProvinceFilter):
    title = _("insured province")
    parameter_name = "insured_province"


class TreatmentProvinceFilter(_ProvinceFilter):
    title = _("treatment province")
    parameter_name = "treatment_province"


def _institution_name_part(term: str) -> bool:
    """Part of an existing institution's name is no person's data: such a search may stay in the address."""
    term = term.strip()
    return len(term) >= 2 and Institution.objects.filter(name__contains=term).exists()


def flag_summary(flag) -> str:
    """What raised a supervision flag, in words."""
    details = flag.details or {}
    try:
        if flag.kind == FlagKind.MULTI_CITY:
            cities = {row.get("city") for row in [*details.get("settlements", []), *details.get("uses", [])]}
            return _("Used in %(cities)d other cities within %(hours)d hours") % {
                "cities": len(cities - {details.get("city")}),
                "hours": details["hours"],
            }
        if flag.kind == FlagKind.FREQUENT:
            return _("%(count)d settlements on %(date)s (limit %(limit)d)") % details
        if flag.kind == FlagKind.INSTITUTION_VOLUME:
            return _("%(count)d settlements on %(date)s; %(days)d-day average %(average)s") % {
                "count": details["count"],
                "date": details["date"],
                "days": details["trailing_days"],
                "average": details["trailing_average"],
            }
    except (KeyError, TypeError):
        pass
    return ", ".join(f"{k}={v}" for k, v in details.items() if not isinstance(v, (list, dict)))


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Catalogue -----------------------------------------------------------------------------------------------


class CatalogueImportForm(forms.Form):
    province = forms.ModelChoiceField(label=_("province"), queryset=Region.objects.filter(level="province"))
    file = forms.FileField(label=_("CSV file"))


@admin.register(Catalogue)
class CatalogueAdmin(admin.ModelAdmin):
    list_display = ("province", "class_b_first_share", "item_count", "updated_at")
    search_fields = ("province__code", "province__name")
    autocomplete_fields = ("province",)
    inlines = [AuditEventInline]

    @admin.display(description=_("items"))
    def item_count(self, obj):
        return obj.items.count()


@admin.register(CatalogueItem)
class CatalogueItemAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "category",
        "coverage_class",
        "first_share_rate",
        "max_price",
        "min_level",
        "unit",
        "province",
        "active",
    )
    list_filter = ("catalogue__province", "category", "coverage_class", "active")
    search_fields = ("code", "name")
    list_select_related = ("catalogue__province",)
    actions = ["export_csv"]
    change_list_template = "admin/settlement/catalogueitem/change_list.html"

    @admin.display(description=_("province"), ordering="catalogue__province")
    def province(self, obj):
        return obj.catalogue.province

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="settlement_catalogueitem_import",
            ),
        ] + super().get_urls()

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            return redirect("admin:index")
        errors = []
        form = CatalogueImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = catalogue_import(
                    province=form.cleaned_data["province"],
                    data=form.cleaned_data["file"].read(),
                    actor=request.user,
                )
            except ImportFailed as exc:
                errors = exc.result.errors
                self.message_user(request, exc.message, messages.ERROR)
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Imported: %(created)d created, %(updated)d updated.")
                    % {"created": result.created, "updated": result.updated},
                    messages.SUCCESS,
                )
                return redirect("admin:settlement_catalogueitem_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "errors": errors,
            "columns": ",".join(CATALOGUE_COLUMNS),
            "opts": self.model._meta,
            "title": _("Import catalogue items"),
        }
        return render(request, "admin/settlement/catalogueitem/import.html", context)

    @admin.action(description=_("Export selected to CSV"))
    def export_csv(self, request, queryset):
        return _csv_response(
            catalogue_export(queryset=queryset.order_by("catalogue_id", "code")), "catalogue.csv"
        )


# --- Policy --------------------------------------------------------------------------------------------------


class PolicyRateInline(admin.TabularInline):
    model = PolicyRate
    extra = 0


class CriticalIllnessTierInline(admin.TabularInline):
    model = CriticalIllnessTier
    extra = 0


class AssistanceRuleInline(admin.TabularInline):
    model = AssistanceRule
    extra = 0


@admin.register(PersonalAccount)
class PersonalAccountAdmin(admin.ModelAdmin):
    """Employees' personal accounts; the person is shown masked."""

    list_display = ("masked_person", "balance", "updated_at")
    fields = ("person", "balance")
    raw_id_fields = ("person",)

    @admin.display(description=_("insured person"))
    def masked_person(self, obj):
        return str(obj.person)

    def get_readonly_fields(self, request, obj=None):
        return ("person",) if obj is not None else ()


class DiseaseLimitInline(admin.TabularInline):
    model = DiseaseLimit
    extra = 0


class PolicyAdminForm(forms.ModelForm):
    preferential_identities = forms.MultipleChoiceField(
        label=_("identities with preferential critical-illness terms"),
        choices=IdentityKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("National rule: extremely poor, low-income and at risk of returning to poverty."),
    )

    class Meta:
        model = Policy
        fields = ("preferential_identities",)


@admin.register(Policy)
class PolicyAdmin(AreaScopedMixin, admin.ModelAdmin):
    form = PolicyAdminForm
    list_display = (
        "region",
        "scheme",
        "year",
        "effective_from",
        "annual_cap",
        "deductible_per_admission",
        "temporary_cut",
        "critical_threshold",
    )
    list_filter = ("scheme", "year", "region__parent")
    search_fields = ("region__code", "region__name", "name")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)
    inlines = [
        PolicyRateInline,
        CriticalIllnessTierInline,
        AssistanceRuleInline,
        DiseaseLimitInline,
        AuditEventInline,
    ]
    fieldsets = (
        (None, {"fields": ("region", "scheme", "year", "effective_from", "name")}),
        (
            _("Basic insurance"),
            {
                "fields": (
                    "annual_cap",
                    "deductible_per_admission",
                    "repeat_admission_factor",
                    "general_outpatient_cap",
                    "general_outpatient_counts_to_critical",
                    "temporary_terms",
                    "temporary_cut",
                    "referral_cut",
                    "emergency_cut",
                )
            },
        ),
        (_("Critical illness insurance"), {"fields": ("critical_threshold", "critical_cap")}),
        (_("Employees' large-amount cover"), {"fields": ("large_amount_ratio", "large_amount_cap")}),
        (
            _("Preferential terms for people in need"),
            {
                "fields": (
                    "preferential_identities",
                    "preferential_threshold_factor",
                    "preferential_ratio_bonus",
                    "preferential_uncapped",
                )
            },
        ),
        (None, {"fields": ("notes",)}),
    )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "region" and staff_area(request.user):
            kwargs["queryset"] = scope(Region.objects.all(), request.user, "code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_autocomplete_fields(self, request):
        return () if staff_area(request.user) else self.autocomplete_fields

    def save_model(self, request, obj, form, change):
        policy_save(policy=obj, actor=request.user, changed=form.changed_data)


# --- Settlements ---------------------------------------------------------------------------------------------


class SettlementLineInline(admin.TabularInline):
    model = SettlementLine
    extra = 0
    can_delete = False
    fields = (
        "line_no",
        "code",
        "name",
        "coverage_class",
        "in_catalogue",
        "quantity",
        "unit_price",
        "amount",
        "self_paid",
        "overlmt_selfpay",
        "first_share",
        "eligible",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class SettlementCorrectionInline(admin.TabularInline):
    """Refunds of part of the bill after the settlement day; the settlement itself never changes."""

    model = SettlementCorrection
    fk_name = "settlement"
    extra = 0
    can_delete = False
    fields = (
        "number",
        "created_at",
        "request_no",
        "reason",
        "returned",
        "total",
        "basic_fund",
        "large_amount_fund",
        "critical_fund",
        "assistance_fund",
        "person_pays",
        "account_pay",
        "statement",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ClearingAdjustmentInline(admin.TabularInline):
    """Corrections carried by a statement: each an adjustment line that takes its amounts off the statement."""

    model = SettlementCorrection
    fk_name = "statement"
    verbose_name = _("adjustment")
    verbose_name_plural = _("adjustments (corrections of earlier settlements, deducted)")
    extra = 0
    can_delete = False
    fields = (
        "number",
        "settlement",
        "created_at",
        "total",
        "basic_fund",
        "large_amount_fund",
        "critical_fund",
        "assistance_fund",
        "account_pay",
        "person_pays",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Settlement)
class SettlementAdmin(PersonSearchMixin, ReadOnlyMixin, LargeTableAdminMixin, admin.ModelAdmin):
    """Settlements of the reviewer's insured area; a person's are found by a full ID number or mobile number
    (posted, never in the address)."""

    list_display = (
        "number",
        "settled",
        "institution",
        "insured_region",
        "visit_type",
        "total",
        "fund_total",
        "person_pays",
        "status",
    )
    list_filter = (
        "status",
        "visit_type",
        "scheme",
        "emergency",
        InsuredProvinceFilter,
        TreatmentProvinceFilter,
    )
    search_fields = ("number", "request_no", "institution__code", "institution__name")
    search_help_text = _(
        "Settlement number, request number, institution code or name; or a full ID number or mobile number."
    )
    recent_field = "settled_at"
    list_select_related = ("institution", "insured_region")
    inlines = [SettlementLineInline, SettlementCorrectionInline, AuditEventInline]
    exclude = ("person", "operator", "code_event", "filing", "reversed_by", "policy")
    readonly_fields = ("masked_person",)

    def get_queryset(self, request):
        return settlements_for_reviewer(user=request.user).select_related(
            "institution", "insured_region", "person"
        )

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields if f.name not in self.exclude]
        return ["masked_person", *names]

    @admin.display(description=_("insured person"))
    def masked_person(self, obj):
        return f"{obj.person.masked_name} {obj.person.masked_id_number}"

    @admin.display(description=_("funds"))
    def fund_total(self, obj):
        return obj.fund_total

    @admin.display(description=_("settled"), ordering="settled_at")
    def settled(self, obj):
        return compact_datetime(obj.settled_at)

    def get_list_display(self, request):
        if staff_area(request.user):  # their own insured area only: the column would repeat it on every row
            return tuple(name for name in self.list_display if name != "insured_region")
        return self.list_display

    def get_list_filter(self, request):
        if staff_area(request.user):
            return tuple(f for f in super().get_list_filter(request) if f is not InsuredProvinceFilter)
        return super().get_list_filter(request)

    def is_public_text(self, term):
        return _institution_name_part(term)


@admin.register(Accumulator)
class AccumulatorAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "insured_person",
        "year",
        "scheme",
        "deductible_paid",
        "basic_fund_paid",
        "large_amount_paid",
        "critical_fund_paid",
        "assistance_paid",
        "burden",
        "updated_at",
    )
    list_filter = ("year", "scheme")
    list_select_related = ("person",)
    exclude = ("person",)

    @admin.display(description=_("insured person"), ordering="person_id")
    def insured_person(self, obj):
        return obj.person

    @admin.display(description=_("deductible paid"))
    def deductible_paid(self, obj):
        return obj.deductible_paid

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user, "person__insured_region_id")


# --- Clearing ------------------------------------------------------------------------------------------------


class ClearingLineInline(admin.TabularInline):
    model = ClearingLine
    extra = 0
    can_delete = False
    fields = (
        "settlement",
        "institution",
        "total",
        "basic_fund",
        "large_amount_fund",
        "critical_fund",
        "assistance_fund",
        "person_pays",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class BuildClearingForm(forms.Form):
    month = forms.DateField(label=_("month"), help_text=_("Any day of the month, e.g. 2026-01-01."))


@admin.register(ClearingStatement)
class ClearingStatementAdmin(admin.ModelAdmin):
    """Monthly clearing statements: what each insured province owes each treatment province, what it has
    prepaid, and the balance due."""

    list_display = (
        "month",
        "insured_province",
        "treatment_province",
        "scheme",
        "settlement_count",
        "adjustment_count",
        "total",
        "basic_fund",
        "large_amount_fund",
        "critical_fund",
        "assistance_fund",
        "fund_total",
        "prepaid",
        "balance_due",
        "status",
    )
    list_filter = ("status", "month", "insured_province", "treatment_province")
    list_select_related = ("insured_province", "treatment_province")
    inlines = [ClearingLineInline, ClearingAdjustmentInline, AuditEventInline]
    actions = ["export_csv", "confirm"]
    change_list_template = "admin/settlement/clearingstatement/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["prepaid", "balance_due"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("prepaid"))
    def prepaid(self, obj):
        return prepaid_for(statement=obj)

    @admin.display(description=_("balance due"))
    def balance_due(self, obj):
        # The prepayment is per direction and month: the balance is of all that month's statements of the
        # direction (both schemes), funds and personal accounts.
        return owed_for_direction(statement=obj) - prepaid_for(statement=obj)

    def get_urls(self):
        return [
            path(
                "build/",
                self.admin_site.admin_view(self.build_view),
                name="settlement_clearingstatement_build",
            ),
            path(
                "balances/",
                self.admin_site.admin_view(self.balances_view),
                name="settlement_clearingstatement_balances",
            ),
        ] + super().get_urls()

    def build_view(self, request):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = BuildClearingForm(
            request.POST or None, initial={"month": previous_month(timezone.localdate())}
        )
        if request.method == "POST" and form.is_valid():
            built = clearing_build(month=month_start(form.cleaned_data["month"]), actor=request.user)
            self.message_user(
                request, _("%(count)d statement(s) built.") % {"count": len(built)}, messages.SUCCESS
            )
            return redirect("admin:settlement_clearingstatement_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": _("Build clearing statements"),
        }
        return render(request, "admin/settlement/clearingstatement/build.html", context)

    def balances_view(self, request):
        if not self.has_view_permission(request):
            return redirect("admin:index")
        names = dict(Region.objects.filter(level="province").values_list("code", "name"))
        rows = [
            {
                **row,
                "payer_name": names.get(row["payer"], row["payer"]),
                "receiver_name": names.get(row["receiver"], row["receiver"]),
            }
            for row in clearing_balances()
        ]
        context = {
            **self.admin_site.each_context(request),
            "rows": rows,
            "opts": self.model._meta,
            "title": _("Balances between provinces"),
        }
        return render(request, "admin/settlement/clearingstatement/balances.html", context)

    @admin.action(description=_("Export selected to CSV"))
    def export_csv(self, request, queryset):
        return _csv_response(
            clearing_export(
                statements=queryset.order_by("month", "insured_province_id", "treatment_province_id")
            ),
            "clearing.csv",
        )

    @admin.action(description=_("Confirm selected statements"))
    def confirm(self, request, queryset):
        for statement in queryset.filter(status=ClearingStatus.DRAFT):
            clearing_confirm(statement=statement, actor=request.user)
        self.message_user(request, _("Statements confirmed."), messages.SUCCESS)


@admin.register(Prepayment)
class PrepaymentAdmin(admin.ModelAdmin):
    list_display = ("month", "payer_province", "receiver_province", "amount", "note", "created_at")
    list_filter = ("month", "payer_province", "receiver_province")
    list_select_related = ("payer_province", "receiver_province")
    autocomplete_fields = ("payer_province", "receiver_province")
    fields = ("payer_province", "receiver_province", "month", "amount", "note")
    inlines = [AuditEventInline]

    def save_model(self, request, obj, form, change):
        prepayment_save(prepayment=obj, actor=request.user)


# --- Supervision ---------------------------------------------------------------------------------------------


@admin.register(SupervisionFlag)
class SupervisionFlagAdmin(PersonSearchMixin, admin.ModelAdmin):
    """Supervision flags of the reviewer's insured area; a person's are found by a full ID number or mobile
    number (posted, never in the address)."""

    list_display = (
        "raised",
        "kind",
        "status",
        "institution",
        "settlement_number",
        "summary",
        "reviewed_by",
    )
    list_filter = (
        "status",
        "kind",
        ("institution__region__parent", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("settlement__number", "institution__code", "institution__name")
    search_help_text = _("Settlement number, institution code or name; or a full ID number or mobile number.")
    date_hierarchy = "created_at"
    list_select_related = ("institution", "settlement", "reviewed_by")
    actions = ["dismiss", "confirm"]
    fields = (
        "kind",
        "status",
        "masked_person",
        "institution",
        "settlement",
        "details",
        "created_at",
        "reviewed_at",
        "reviewed_by",
        "review_note",
    )
    inlines = [AuditEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.fields if f != "review_note"]

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user, "settlement__insured_region_id")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("insured person"))
    def masked_person(self, obj):
        return f"{obj.person.masked_name} {obj.person.masked_id_number}" if obj.person_id else "-"

    @admin.display(description=_("settlement"))
    def settlement_number(self, obj):
        return obj.settlement.number if obj.settlement_id else "-"

    @admin.display(description=_("raised"), ordering="created_at")
    def raised(self, obj):
        return compact_datetime(obj.created_at)

    @admin.display(description=_("details"))
    def summary(self, obj):
        return flag_summary(obj)

    def is_public_text(self, term):
        return _institution_name_part(term)

    def save_model(self, request, obj, form, change):
        # Only the note is editable here; decisions go through the actions (with audit).
        obj.save(update_fields=["review_note"])

    def _review(self, request, queryset, status):
        for flag in queryset.filter(status=FlagStatus.OPEN):
            flag_review(flag=flag, actor=request.user, status=status)
        self.message_user(request, _("Flags updated."), messages.SUCCESS)

    @admin.action(description=_("Dismiss selected flags"), permissions=["change"])
    def dismiss(self, request, queryset):
        self._review(request, queryset, FlagStatus.DISMISSED)

    @admin.action(description=_("Confirm selected flags"), permissions=["change"])
    def confirm(self, request, queryset):
        self._review(request, queryset, FlagStatus.CONFIRMED)
