from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline

from .models import AuditEvent


class AuditEventInline(GenericTabularInline):
    """Read-only audit history shown under the object it concerns."""

    model = AuditEvent
    ct_field = "target_type"
    ct_fk_field = "target_id"
    extra = 0
    can_delete = False
    fields = ("created_at", "actor_label", "action", "from_state", "to_state", "reason")
    readonly_fields = fields
    ordering = ("created_at",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "from_state",
        "to_state",
    )
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "target_id", "action")
    date_hierarchy = "created_at"

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
