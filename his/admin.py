from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import HisTerminal
from .services import his_terminal_create, his_terminal_revoke


@admin.register(HisTerminal)
class HisTerminalAdmin(admin.ModelAdmin):
    """HIS gateway credentials: the secret is shown once, right after creation; revoked, never deleted."""

    list_display = (
        "name",
        "paasid",
        "operator",
        "institution_name",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    list_select_related = ("operator__institution",)
    fields = ("operator", "name")
    actions = ["revoke"]

    @admin.display(description=_("institution"))
    def institution_name(self, obj):
        return obj.operator.institution

    def get_readonly_fields(self, request, obj=None):
        return ("operator", "name") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        terminal, secret = his_terminal_create(operator=obj.operator, name=obj.name, actor=request.user)
        obj.pk, obj.paasid, obj.created_at = terminal.pk, terminal.paasid, terminal.created_at
        obj._state.adding = False
        self.message_user(
            request,
            _("Copy these now; the secret will not be shown again: paasid %(paasid)s, secret %(secret)s")
            % {"paasid": terminal.paasid, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected credentials"))
    def revoke(self, request, queryset):
        for terminal in queryset:
            his_terminal_revoke(terminal=terminal, actor=request.user)
        self.message_user(request, _("Credentials revoked."), messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        return False
