"""Agency reviewers' admin: the review queue of their own pooling area, decisions, and their area's policy.

Decisions go through `filing.services`, like every other state change; the admin only collects the reason.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.person_search import Kind, PersonSearchMixin
from accounts.scopes import in_scope, scope
from core.admin import AuditEventInline, compact_date, compact_datetime
from core.errors import ServiceError

from .choices import DocumentKind, FilingStatus
from .dates import today
from .documents import document_file_response
from .models import Filing, FilingPolicy, GroupRule, Holiday, Referral
from .selectors import filings_for_reviewer
from .services import (
    document_open_by_reviewer,
    filing_approve,
    filing_policy_record_change,
    filing_reject,
    filing_revoke,
)

# Common reasons for rejection with the hint the person gets on how to fix it.
REJECT_REASONS = {
    "materials_missing": (
        _("The required materials are incomplete."),
        _("Upload every required material, or sign a commitment where your area allows it, and file again."),
    ),
    "materials_unreadable": (
        _("The materials cannot be read or do not match the applicant."),
        _("Upload clear, complete scans or photos of your own documents and file again."),
    ),
    "not_eligible": (
        _("You do not belong to the group you filed for."),
        _("Choose the group that fits your situation, or ask your agency which one applies, and file again."),
    ),
    "wrong_destination": (
        _("The destination does not match the materials."),
        _("File again for the place where you live, work or are treated."),
    ),
}


class QueueStatusFilter(admin.SimpleListFilter):
    """Status, opening on "submitted": the review queue."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*FilingStatus.choices, (self.ALL, _("All"))]

    def choices(self, changelist):
        current = self.value() or FilingStatus.SUBMITTED
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or FilingStatus.SUBMITTED
        if value == self.ALL:
            return queryset
        if value not in FilingStatus.values:
            return queryset.none()
        return queryset.filter(status=value)


class DeadlineFilter(admin.SimpleListFilter):
    title = _("review deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("Overdue")),
            ("today", _("Due today")),
            ("soon", _("Due within 3 days")),
            ("later", _("Later")),
        ]

    def queryset(self, request, queryset):
        day = today()
        value = self.value()
        if value == "overdue":
            return queryset.filter(review_deadline__lt=day)
        if value == "today":
            return queryset.filter(review_deadline=day)
        if value == "soon":
            return queryset.filter(review_deadline__gt=day, review_deadline__lte=day + dt.timedelta(days=3))
        if value == "later":
            return queryset.filter(review_deadline__gt=day + dt.timedelta(days=3))
        return queryset


class RejectForm(forms.Form):
    common = forms.ChoiceField(
        label=_("Common reason"),
        required=False,
        choices=[("", _("Other (write it below)")), *((k, v[0]) for k, v in REJECT_REASONS.items())],
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the person. Never include ID numbers, names or phone numbers."),
    )
    hint = forms.CharField(
        label=_("How to fix it"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        common = REJECT_REASONS.get(data.get("common") or "")
        reason = " ".join(
            filter(None, [str(common[0]) if common else "", (data.get("reason") or "").strip()])
        )
        if not reason:
            raise forms.ValidationError(_("Choose a common reason or write one."))
        data["reason"] = reason
        data["hint"] = (data.get("hint") or "").strip() or (str(common[1]) if common else "")
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the person, e.g. a false commitment."),
    )


class FilingAuditInline(AuditEventInline):
    """The filing's audit history; whoever may see the filing may see it."""

    def has_view_permission(self, request, obj=None):
        return True


class ReferralInline(admin.StackedInline):
    """What the referring hospital said (a referral it filed through the national interface); read only."""

    model = Referral
    can_delete = False
    extra = 0
    max_num = 0
    fields = (
        "institution",
        "diagnosis_code",
        "diagnosis_name",
        "condition",
        "destination_institution",
        "referral_type",
        "referral_date",
        "reason",
        "opinion",
    )
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Filing)
class FilingAdmin(PersonSearchMixin, admin.ModelAdmin):
    """The review queue: submitted filings of the reviewer's pooling area, oldest first, deadline shown."""

    # Fits 1280 px with the filters open: the person is one column (masked name over masked ID number), dates are
    # short (full date in the tooltip), and the status column only appears when the list shows more than one.
    list_display = (
        "serial",
        "person_column",
        "group",
        "destination_name",
        "status",
        "commitment_column",
        "submitted",
        "deadline",
    )
    list_filter = (
        QueueStatusFilter,
        "group",
        ("destination", admin.RelatedOnlyFieldListFilter),
        DeadlineFilter,
        "channel",
        "commitment",
    )
    list_select_related = ("person", "destination__parent")
    ordering = ("submitted_at", "id")
    search_fields = ("serial",)
    search_help_text = _(
        "Serial number; or a full ID or mobile number, a masked one as shown, or its last 4 digits."
    )
    person_search_kinds = tuple(Kind)
    actions = ["approve_selected", "reject_selected"]
    inlines = [ReferralInline, FilingAuditInline]
    list_per_page = 50

    # --- Who sees what ---

    def get_queryset(self, request):
        return filings_for_reviewer(user=request.user).select_related(
            "person", "destination__parent", "insured_region", "decided_by", "supersedes"
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("approve_selected", None)
            actions.pop("reject_selected", None)
        return actions

    def can_view_documents(self, request) -> bool:
        return request.user.has_perm("filing.view_filingdocument")

    # --- Search by what reviewers see (numbers are posted, never put into the address) ---

    def person_search_filter(self, search):
        if search.kind == Kind.MASKED:
            return Q(masked_id_number=search.text) | Q(masked_phone=search.text)
        if search.kind == Kind.TAIL:
            return Q(masked_id_number__endswith=search.text) | Q(masked_phone__endswith=search.text)
        return super().person_search_filter(search)

    # --- Columns and fields ---

    def get_list_display(self, request):
        shown = request.GET.get(QueueStatusFilter.parameter_name) or FilingStatus.SUBMITTED
        if shown != QueueStatusFilter.ALL:
            return tuple(name for name in self.list_display if name != "status")
        return self.list_display

    @admin.display(description=_("insured person"))
    def person_masked(self, obj):
        return obj.person.masked_name

    @admin.display(description=_("insured person"), ordering="masked_id_number")
    def person_column(self, obj):
        return format_html(
            '{}<br><span class="quiet">{}</span>', obj.person.masked_name, obj.masked_id_number
        )

    @admin.display(description=_("commitment"), boolean=True, ordering="commitment")
    def commitment_column(self, obj):
        return obj.commitment

    @admin.display(description=_("submitted"), ordering="submitted_at")
    def submitted(self, obj):
        return compact_datetime(obj.submitted_at)

    @admin.display(description=_("destination"), ordering="destination")
    def destination_name(self, obj):
        return obj.destination.full_name

    @admin.display(description=_("review deadline"), ordering="review_deadline")
    def deadline(self, obj):
        if obj.review_deadline is None:
            return "—"
        day = compact_date(obj.review_deadline)
        if obj.status != FilingStatus.SUBMITTED:
            return day
        left = (obj.review_deadline - today()).days
        if left < 0:
            return format_html(
                '<strong class="deadline overdue">{}<br>{}</strong>',
                day,
                _("overdue by %(days)d days") % {"days": -left},
            )
        if left == 0:
            return format_html('<strong class="deadline today">{}<br>{}</strong>', day, _("due today"))
        return format_html(
            '<span class="deadline">{}<br><span class="quiet">{}</span></span>',
            day,
            _("%(days)d days left") % {"days": left},
        )

    @admin.display(description=_("ID number"))
    def person_id_masked(self, obj):
        return obj.person.masked_id_number

    @admin.display(description=_("mobile phone"))
    def person_phone_masked(self, obj):
        return obj.person.masked_phone

    @admin.display(description=_("retired"), boolean=True)
    def person_retired(self, obj):
        return obj.person.retired

    @admin.display(description=_("picked institutions"))
    def picked_institutions(self, obj):
        picks = list(obj.picks.select_related("institution"))
        if not picks:
            return _("Every networked institution in the destination") if not obj.pick_required else "—"
        return format_html_join(", ", "{} ({})", ((p.institution.name, p.institution.code) for p in picks))

    @admin.display(description=_("proxy applicant"))
    def proxy(self, obj):
        masked = obj.proxy_masked
        if masked is None:
            return "—"
        return format_html(
            "{} · {} · {} · {}",
            masked["name"],
            masked["id_number"],
            masked["phone"],
            obj.get_proxy_relation_display(),
        )

    @admin.display(description=_("required materials"))
    def materials(self, obj):
        from .selectors import filing_policy_for, group_rule_of

        rule = group_rule_of(policy=filing_policy_for(region=obj.insured_region_id), group=obj.group)
        if obj.commitment:
            return _("Signed personal commitment instead of materials")
        if rule is None or not rule.materials:
            return "—"
        return ", ".join(str(DocumentKind(kind).label) for kind in rule.materials)

    @admin.display(description=_("documents"))
    def documents_preview(self, obj):
        documents = list(obj.documents.all())
        if not documents:
            return "—"
        items = []
        for document in documents:
            url = reverse("admin:filing_filing_document", args=[obj.pk, document.pk])
            if document.is_image:
                items.append(
                    format_html(
                        '<figure style="display:inline-block;margin:0 12px 12px 0"><a href="{}" target="_blank" '
                        'rel="noopener"><img src="{}" alt="{}" style="max-height:180px;max-width:260px;'
                        'border:1px solid #ccc"></a><figcaption>{}</figcaption></figure>',
                        url,
                        url,
                        document.get_kind_display(),
                        document.get_kind_display(),
                    )
                )
            else:
                items.append(
                    format_html(
                        '<p><a href="{}" target="_blank" rel="noopener">{} (PDF, {})</a></p>',
                        url,
                        document.get_kind_display(),
                        filesizeformat(document.size),
                    )
                )
        return format_html_join("", "{}", ((item,) for item in items))

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                _("Insured person"),
                {
                    "fields": (
                        "person_masked",
                        "person_id_masked",
                        "person_phone_masked",
                        "insured_region",
                        "scheme",
                        "person_retired",
                    )
                },
            ),
            (
                _("Filing"),
                {
                    "fields": (
                        "serial",
                        "group",
                        "status",
                        "channel",
                        "destination",
                        "start_date",
                        "end_date",
                        "commitment",
                        "materials",
                        "picked_institutions",
                        "destination_address",
                        "supersedes",
                    )
                },
            ),
            (_("Proxy applicant"), {"fields": ("proxy",)}),
            (
                _("Review"),
                {
                    "fields": (
                        "submitted_at",
                        "review_deadline",
                        "decided_at",
                        "decided_by",
                        "reason",
                        "fix_hint",
                        "closed_at",
                    )
                },
            ),
        ]
        if self.can_view_documents(request):
            fieldsets.insert(2, (_("Documents"), {"fields": ("documents_preview",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [field for _title, options in self.get_fieldsets(request, obj) for field in options["fields"]]

    # --- Decisions ---

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/approve/", view(self.approve_view), name="filing_filing_approve"),
            path("<int:object_id>/reject/", view(self.reject_view), name="filing_filing_reject"),
            path("<int:object_id>/revoke/", view(self.revoke_view), name="filing_filing_revoke"),
            path(
                "<int:object_id>/documents/<int:document_id>/",
                view(self.document_view),
                name="filing_filing_document",
            ),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        shown = request.GET.get(QueueStatusFilter.parameter_name) or FilingStatus.SUBMITTED
        if shown == FilingStatus.SUBMITTED:
            extra_context = {"title": _("Filings waiting for review"), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        filing = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        tools = []
        if filing is not None and self.has_change_permission(request, filing):
            if filing.status == FilingStatus.SUBMITTED:
                tools += [
                    (reverse("admin:filing_filing_approve", args=[filing.pk]), _("Approve")),
                    (reverse("admin:filing_filing_reject", args=[filing.pk]), _("Reject")),
                ]
            elif filing.status == FilingStatus.APPROVED:
                tools.append((reverse("admin:filing_filing_revoke", args=[filing.pk]), _("Revoke")))
        extra_context.update(
            {
                "decision_tools": tools,
                "show_save": False,
                "show_save_and_continue": False,
                "show_save_and_add_another": False,
                "show_delete": False,
            }
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def _decidable(self, request, object_id) -> Filing:
        filing = self.get_queryset(request).filter(pk=object_id).first()
        if filing is None or not self.has_change_permission(request, filing):
            raise Http404
        return filing

    def _render_decision(self, request, *, filings, title, submit_label, form=None, action=None):
        change_url = reverse("admin:filing_filing_changelist")
        if len(filings) == 1 and action is None:
            change_url = reverse("admin:filing_filing_change", args=[filings[0].pk])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "filings": filings,
            "form": form,
            "action": action,
            "submit_label": submit_label,
            "cancel_url": change_url,
        }
        return render(request, "admin/filing/filing/decision.html", context)

    def _done(self, request, filing, message):
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:filing_filing_change", args=[filing.pk]))

    def approve_view(self, request, object_id):
        filing = self._decidable(request, object_id)
        if request.method == "POST":
            try:
                filing_approve(filing=filing, actor=request.user)
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:filing_filing_change", args=[filing.pk]))
            return self._done(request, filing, _("Filing %(serial)s approved.") % {"serial": filing.serial})
        return self._render_decision(
            request, filings=[filing], title=_("Approve filing"), submit_label=_("Approve")
        )

    def reject_view(self, request, object_id):
        filing = self._decidable(request, object_id)
        form = RejectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                filing_reject(
                    filing=filing,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    hint=form.cleaned_data["hint"],
                )
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:filing_filing_change", args=[filing.pk]))
            return self._done(request, filing, _("Filing %(serial)s rejected.") % {"serial": filing.serial})
        return self._render_decision(
            request, filings=[filing], title=_("Reject filing"), form=form, submit_label=_("Reject")
        )

    def revoke_view(self, request, object_id):
        filing = self._decidable(request, object_id)
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                filing_revoke(filing=filing, actor=request.user, reason=form.cleaned_data["reason"])
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:filing_filing_change", args=[filing.pk]))
            return self._done(request, filing, _("Filing %(serial)s revoked.") % {"serial": filing.serial})
        return self._render_decision(
            request, filings=[filing], title=_("Revoke filing"), form=form, submit_label=_("Revoke")
        )

    def document_view(self, request, object_id, document_id):
        """A document of a filing the reviewer may see, shown inline for preview."""
        if not self.can_view_documents(request):
            raise Http404
        filing = self.get_queryset(request).filter(pk=object_id).first()
        document = filing.documents.filter(pk=document_id).first() if filing else None
        if document is None:
            raise Http404
        document_open_by_reviewer(document=document, actor=request.user)
        return document_file_response(document, as_attachment=False)

    @admin.action(description=_("Approve selected filings"), permissions=["change"])
    def approve_selected(self, request, queryset):
        self._bulk(
            request,
            queryset,
            lambda filing: filing_approve(filing=filing, actor=request.user),
            _("%(count)d filings approved."),
        )

    @admin.action(description=_("Reject selected filings…"), permissions=["change"])
    def reject_selected(self, request, queryset):
        form = RejectForm(request.POST if "post" in request.POST else None)
        if "post" in request.POST and form.is_valid():
            data = form.cleaned_data
            self._bulk(
                request,
                queryset,
                lambda filing: filing_reject(
                    filing=filing, actor=request.user, reason=data["reason"], hint=data["hint"]
                ),
                _("%(count)d filings rejected."),
            )
            return None
        return self._render_decision(
            request,
            filings=list(queryset),
            title=_("Reject filings"),
            form=form,
            submit_label=_("Reject"),
            action="reject_selected",
        )

    def _bulk(self, request, queryset, decide, done_message):
        done, failed = 0, []
        for filing in queryset.order_by("submitted_at", "id"):
            try:
                decide(filing)
                done += 1
            except ServiceError as exc:
                failed.append(f"{filing.serial}: {exc.message}")
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)


# --- Policies ---


class GroupRuleForm(forms.ModelForm):
    materials = forms.MultipleChoiceField(
        label=_("required materials"),
        choices=DocumentKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = GroupRule
        fields = [
            "group",
            "accepted",
            "materials",
            "commitment_allowed",
            "validity_months",
            "max_validity_months",
            "min_months_before_change",
            "retired_required",
            "auto_approve",
            "required_service",
        ]


def _own_policy(request, policy) -> bool:
    return in_scope(policy, request.user, "region_id")


class GroupRuleInline(admin.StackedInline):
    model = GroupRule
    form = GroupRuleForm
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and _own_policy(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or _own_policy(request, obj))


@admin.register(FilingPolicy)
class FilingPolicyAdmin(admin.ModelAdmin):
    """Each agency edits its own area's filing rules; the default policy is the administrators'."""

    list_display = (
        "__str__",
        "pick_required",
        "max_institutions",
        "review_deadline_days",
        "instant_approval",
        "retroactive_days",
        "updated_at",
    )
    list_select_related = ("region",)
    fields = (
        "region",
        "pick_required",
        "max_institutions",
        "review_deadline_days",
        "instant_approval",
        "retroactive_days",
    )
    autocomplete_fields = ("region",)
    inlines = [GroupRuleInline]

    def get_queryset(self, request):
        # Every reviewer reads the national default their area falls back to.
        return scope(super().get_queryset(request), request.user, "region_id", also=Q(region__isnull=True))

    def get_readonly_fields(self, request, obj=None):
        return ("region",) if obj is not None else ()

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or _own_policy(request, obj))

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and (obj is None or not obj.is_default)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changed = list(form.changed_data)
        for formset in formsets:
            changed += [
                f"{f.instance.group}.{name}"
                for f in formset.forms
                if f.has_changed()
                for name in f.changed_data
            ]
        if changed:
            filing_policy_record_change(policy=form.instance, actor=request.user, changed=changed)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """Public holidays and make-up working days, for review deadlines."""

    list_display = ("date", "name", "is_working_day")
    list_filter = ("is_working_day",)
    date_hierarchy = "date"

    def has_module_permission(self, request):
        return request.user.is_superuser
