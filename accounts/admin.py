from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from core.validators import validate_id_number, validate_phone
from reference.choices import Scheme

from .models import ApiKey, InsuredPerson, User
from .person_search import PersonSearchMixin
from .scopes import scope, staff_area
from .services import (
    api_key_create,
    api_key_revoke,
    person_create,
    person_get_by_id_number,
    person_get_by_phone,
)
from .signin import SignInLocked


class AdminSignInForm(AdminAuthenticationForm):
    """Django admin's sign-in, telling a locked account or address so (the backend throttles every sign-in)."""

    def clean(self):
        try:
            return super().clean()
        except SignInLocked as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


# Without this form a locked sign-in would still be refused (by the backend), but as a server error.
admin.site.login_form = AdminSignInForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "role", "region", "institution", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active")
    list_select_related = ("region", "institution")
    autocomplete_fields = ("region", "institution")
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Role"), {"fields": ("role", "region", "institution", "language")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Role"), {"fields": ("role", "region", "institution")}),
    )


class PersonCreationForm(forms.ModelForm):
    """Registers a person through `person_create`; bad or already registered numbers are shown on the field."""

    name = forms.CharField(label=_("name"), max_length=60)
    id_number = forms.CharField(label=_("ID number"), max_length=18)
    phone = forms.CharField(label=_("mobile phone"), max_length=20)

    def clean_id_number(self):
        id_number = validate_id_number(self.cleaned_data["id_number"])
        if person_get_by_id_number(id_number) is not None:
            raise forms.ValidationError(
                _("This ID number is already registered."), code="duplicate_id_number"
            )
        return id_number

    def clean_phone(self):
        phone = validate_phone(self.cleaned_data["phone"])
        if person_get_by_phone(phone) is not None:
            raise forms.ValidationError(_("This phone number is already registered."), code="duplicate_phone")
        return phone

    class Meta:
        model = InsuredPerson
        fields = [
            "name",
            "id_number",
            "phone",
            "insured_region",
            "scheme",
            "retired",
            "employer",
            "assistance_category",
        ]


@admin.register(InsuredPerson)
class InsuredPersonAdmin(PersonSearchMixin, admin.ModelAdmin):
    """People are shown masked; search takes a full ID number or phone (posted, never in the address) and finds
    it through the keyed hash."""

    list_display = (
        "masked_name",
        "masked_id_number",
        "masked_phone",
        "insured_region",
        "scheme",
        "retired",
        "status",
    )
    person_path = ""
    list_filter = ("scheme", "status", "retired", "insured_region__parent")
    list_select_related = ("insured_region",)
    search_help_text = _("Enter a full ID number or mobile number.")
    readonly_fields = (
        "masked_name",
        "masked_id_number",
        "masked_phone",
        "insured_region",
        "scheme",
        "created",
    )
    fields = (
        "masked_name",
        "masked_id_number",
        "masked_phone",
        "insured_region",
        "scheme",
        "retired",
        "status",
        "employer",
        "assistance_category",
        "created",
    )

    @admin.display(description=_("name"))
    def masked_name(self, obj):
        return obj.masked_name

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("mobile phone"))
    def masked_phone(self, obj):
        return obj.masked_phone

    @admin.display(description=_("registered"), ordering="created_at")
    def created(self, obj):
        return obj.created_at

    def get_list_display(self, request):
        if staff_area(request.user):  # their own area only: the column would repeat it on every row
            return tuple(name for name in self.list_display if name != "insured_region")
        return self.list_display

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if staff_area(request.user):
            return tuple(f for f in filters if f != "insured_region__parent")
        return filters

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = PersonCreationForm
            kwargs["fields"] = PersonCreationForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return PersonCreationForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user, "insured_region_id")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # The form has validated the numbers and their uniqueness; the service registers and audits.
        data = form.cleaned_data
        created = person_create(
            name=data["name"],
            id_number=data["id_number"],
            phone=data["phone"],
            insured_region=data["insured_region"],
            scheme=data["scheme"] or Scheme.EMPLOYEE,
            retired=data["retired"],
            employer=data.get("employer", ""),
            assistance_category=data.get("assistance_category", ""),
            actor=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Terminal keys: the clear key is shown once, right after creation; only a hash is kept."""

    list_display = (
        "name",
        "prefix",
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
        key, clear = api_key_create(operator=obj.operator, name=obj.name, actor=request.user)
        obj.pk = key.pk
        obj._state.adding = False
        self.message_user(
            request,
            _("Copy this key now; it will not be shown again: %(key)s") % {"key": clear},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key, actor=request.user)
        self.message_user(request, _("Keys revoked."), messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        return False
