"""Input forms of the pages: they check shape only; every decision is taken by the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SignInForm(forms.Form):
    identifier = forms.CharField(
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "inputmode": "tel"}),
    )
    password = forms.CharField(
        max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, counter: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["identifier"].label = _("Operator username") if counter else _("Mobile phone number")
        if counter:
            self.fields["identifier"].widget.attrs["inputmode"] = "text"
        self.fields["password"].label = _("Password")
        for field in self.fields.values():
            field.error_messages["required"] = _("Please fill in this field.")


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Document type"))
    upload = forms.FileField(label=_("File (PDF, JPG or PNG)"))

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = list(kinds)


class ScanForm(forms.Form):
    """What the scanner gun types: the e-code digits (spaces and line breaks are ignored)."""

    token = forms.CharField(
        label=_("E-code"),
        max_length=400,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "spellcheck": "false",
                "inputmode": "numeric",
                "class": "scan-input",
            }
        ),
    )

    # Set by the page's emergency use button only: an emergency is treated as filed.
    emergency = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_token(self) -> str:
        return "".join(self.cleaned_data["token"].split())


# --- the filing wizard ---


class GroupStepForm(forms.Form):
    group = forms.ChoiceField(label=_("Who is filing"), widget=forms.RadioSelect)

    def __init__(self, *args, groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = list(groups)
        self.fields["group"].error_messages["required"] = _("Choose the situation that fits you.")


class DestinationStepForm(forms.Form):
    destination = forms.CharField(label=_("Destination (where you will be treated)"), max_length=6)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].error_messages["required"] = _(
            "Choose the city or province where you will be treated."
        )


class InstitutionSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name"), max_length=60, required=False)
    level = forms.ChoiceField(label=_("Level"), required=False)
    service = forms.ChoiceField(label=_("Service"), required=False)

    def __init__(self, *args, levels=(), services=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", _("All levels")), *levels]
        self.fields["service"].choices = [("", _("All services")), *services]


class DatesStepForm(forms.Form):
    start_date = forms.DateField(
        label=_("Start date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end_date = forms.DateField(
        label=_("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].error_messages.update(
            required=_("Enter the date from which you need treatment."), invalid=_("Enter a valid date.")
        )
        self.fields["end_date"].error_messages["invalid"] = _("Enter a valid date.")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date must not be before the start date."))
        return cleaned


class MaterialsStepForm(forms.Form):
    commitment = forms.BooleanField(
        label=_("I make a personal commitment instead of proof documents"), required=False
    )


class ProxyForm(forms.Form):
    """A family member filing for the person (often an elderly one); the filing service checks the details."""

    enabled = forms.BooleanField(label=_("A family member is filling this in for me"), required=False)
    name = forms.CharField(label=_("Family member's name"), max_length=40, required=False)
    id_number = forms.CharField(label=_("Family member's ID number"), max_length=18, required=False)
    phone = forms.CharField(label=_("Family member's mobile phone"), max_length=20, required=False)
    relation = forms.ChoiceField(label=_("Relation to you"), required=False)

    def __init__(self, *args, **kwargs):
        from filing.choices import ProxyRelation

        super().__init__(*args, **kwargs)
        self.fields["relation"].choices = [("", "—"), *ProxyRelation.choices]
        self.fields["phone"].widget.attrs.update(inputmode="tel", autocomplete="off")
        self.fields["id_number"].widget.attrs.update(autocomplete="off")

    @staticmethod
    def initial_from(filing) -> dict:
        if filing is None or not filing.has_proxy:
            return {}
        return {
            "enabled": True,
            "name": filing.proxy_name,
            "id_number": filing.proxy_id_number,
            "phone": filing.proxy_phone,
            "relation": filing.proxy_relation,
        }

    def cleaned_proxy(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("enabled"):
            return None
        return {key: data.get(key) or "" for key in ("name", "id_number", "phone", "relation")}
