"""Admin for e-codes: credentials (with suspend, reinstate and revoke), signing keys and the scan log."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from accounts.person_search import PersonSearchMixin
from accounts.scopes import scope, staff_area
from core.admin import AuditEventInline, EstimatedCountPaginator, LargeTableAdminMixin, compact_datetime
from core.errors import ServiceError

from .models import CodeEvent, Credential, SigningKey
from .services import credential_reinstate, credential_revoke, credential_suspend
from .verifier import EcodeErrorCode


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=500)


def _with_reason(service, title, *, required=True):
    """An admin action that asks for a reason, then calls ``service`` for each selected credential."""

    def action(modeladmin, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not required:
            form.fields["reason"].required = False
        if form.is_bound and form.is_valid():
            done = 0
            for credential in queryset.select_related("person"):
                try:
                    service(credential=credential, actor=request.user, reason=form.cleaned_data["reason"])
                    done += 1
                except ServiceError as exc:
                    modeladmin.message_user(request, f"{credential}: {exc.message}", messages.WARNING)
            modeladmin.message_user(
                request, _("%(count)d e-codes updated.") % {"count": done}, messages.SUCCESS
            )
            return None
        return TemplateResponse(
            request,
            "admin/ecode/credential/reason.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset.select_related("person"),
                "action": request.POST.get("action"),
                "opts": modeladmin.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    return action


@admin.register(Credential)
class CredentialAdmin(PersonSearchMixin, admin.ModelAdmin):
    """E-code credentials; a reviewer sees only those of their own pooling area, and finds a person's by a full
    ID number or mobile number (posted, never in the address)."""

    list_display = ("person", "insured_region", "status", "activated", "updated")
    list_filter = ("status",)
    search_help_text = _("A full ID number or mobile number.")
    list_select_related = ("person__insured_region",)
    # One row per insured person: an estimated total and no date drill-down (each would read the whole table).
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "person",
        "status",
        "activated_at",
        "suspended_at",
        "suspended_reason",
        "revoked_at",
        "revoked_reason",
    )
    readonly_fields = fields
    inlines = [AuditEventInline]
    actions = ["suspend", "reinstate", "revoke"]

    @admin.display(description=_("insured pooling area"))
    def insured_region(self, obj):
        return obj.person.insured_region.name

    @admin.display(description=_("activated"), ordering="activated_at")
    def activated(self, obj):
        return compact_datetime(obj.activated_at)

    @admin.display(description=_("updated"), ordering="updated_at")
    def updated(self, obj):
        return compact_datetime(obj.updated_at)

    def get_list_display(self, request):
        if staff_area(request.user):  # their own area only: the column would repeat it on every row
            return tuple(name for name in self.list_display if name != "insured_region")
        return self.list_display

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user, "person__insured_region_id")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Suspend the selected e-codes"), permissions=["change"])
    def suspend(self, request, queryset):
        return _with_reason(credential_suspend, _("Suspend e-codes"))(self, request, queryset)

    @admin.action(description=_("Reinstate the selected e-codes"), permissions=["change"])
    def reinstate(self, request, queryset):
        return _with_reason(credential_reinstate, _("Reinstate e-codes"), required=False)(
            self, request, queryset
        )

    @admin.action(description=_("Revoke the selected e-codes"), permissions=["change"])
    def revoke(self, request, queryset):
        return _with_reason(credential_revoke, _("Revoke e-codes"))(self, request, queryset)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Signing keys, read-only: change them with ``manage.py ecode_keys``. Private material is never shown."""

    list_display = ("kid_hex", "status", "created_at", "retired_at", "verify_until", "revoked_at")
    list_filter = ("status",)
    fields = ("kid_hex", "status", "created_at", "retired_at", "verify_until", "revoked_at")
    readonly_fields = fields
    inlines = [AuditEventInline]

    @admin.display(description=_("key id"), ordering="kid")
    def kid_hex(self, obj):
        return obj.kid_hex

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


RESULT_WORDS = {
    "ok": _("Accepted"),
    EcodeErrorCode.MALFORMED: _("Not an e-code"),
    EcodeErrorCode.UNSUPPORTED_VERSION: _("Unsupported version"),
    EcodeErrorCode.UNKNOWN_KEY: _("Unknown key"),
    EcodeErrorCode.BAD_SIGNATURE: _("Bad signature"),
    EcodeErrorCode.NOT_YET_VALID: _("Not yet valid"),
    EcodeErrorCode.EXPIRED: _("Expired"),
    EcodeErrorCode.UNKNOWN_SUBJECT: _("Unknown credential"),
    EcodeErrorCode.CREDENTIAL_SUSPENDED: _("Credential suspended"),
    EcodeErrorCode.CREDENTIAL_REVOKED: _("Credential revoked"),
    EcodeErrorCode.ALREADY_USED: _("Already used"),
    EcodeErrorCode.WRONG_INSTITUTION: _("Wrong institution"),
    EcodeErrorCode.NOT_COVERED: _("Not covered here"),
}


class ResultFilter(admin.SimpleListFilter):
    """A check's result from the fixed list of answers (no scan of the events for their values)."""

    title = _("result")
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return [(str(code), words) for code, words in RESULT_WORDS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(result=self.value()) if self.value() else queryset


@admin.register(CodeEvent)
class CodeEventAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    """Every check and use of an e-code at a counter, read-only; the last month unless another range is picked."""

    list_display = (
        "created_at",
        "kind",
        "result_words",
        "institution",
        "operator",
        "api_key_prefix",
        "request_no",
    )
    list_filter = ("kind", ResultFilter)
    list_select_related = ("institution", "operator")
    # Exact values only, each served by an index within the period: an institution's code or a request number.
    search_fields = ("=institution__code", "=request_no")
    fields = (
        "created_at",
        "kind",
        "result",
        "institution",
        "operator",
        "api_key_prefix",
        "request_no",
        "person",
        "token_iat",
    )
    readonly_fields = fields

    @admin.display(description=_("result"), ordering="result")
    def result_words(self, obj):
        return RESULT_WORDS.get(obj.result, obj.result)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
