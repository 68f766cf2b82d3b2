from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError

from .models import Institution, Region
from .services import ImportFailed, institutions_export, institutions_import


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "is_pooling_area")
    list_filter = ("level", "is_pooling_area")
    search_fields = ("code", "name")
    list_select_related = ("parent",)

    def has_delete_permission(self, request, obj=None):
        return False


class InstitutionImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "level",
        "region",
        "inpatient",
        "general_outpatient",
        "chronic_outpatient",
        "networked",
        "active",
    )
    list_filter = (
        "kind",
        "level",
        "networked",
        "active",
        "inpatient",
        "chronic_outpatient",
        "region__parent",
    )
    search_fields = ("code", "name")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)
    actions = ["export_csv"]
    change_list_template = "admin/reference/institution/change_list.html"

    def get_urls(self):
        return [
            path(
                "import/", self.admin_site.admin_view(self.import_view), name="reference_institution_import"
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_all_view),
                name="reference_institution_export",
            ),
        ] + super().get_urls()

    def import_view(self, request):
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            return redirect("admin:index")
        errors = []
        form = InstitutionImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = institutions_import(data=form.cleaned_data["file"].read())
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
                return redirect("admin:reference_institution_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "errors": errors,
            "opts": self.model._meta,
            "title": _("Import institutions"),
        }
        return render(request, "admin/reference/institution/import.html", context)

    def export_all_view(self, request):
        return self._csv_response(institutions_export(queryset=Institution.objects.order_by("code")))

    @admin.action(description=_("Export selected to CSV"))
    def export_csv(self, request, queryset):
        return self._csv_response(institutions_export(queryset=queryset.order_by("code")))

    @staticmethod
    def _csv_response(text: str) -> HttpResponse:
        response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="institutions.csv"'
        return response
