from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province-level")
    PREFECTURE = "prefecture", _("Prefecture-level")


class InstitutionKind(models.TextChoices):
    HOSPITAL = "hospital", _("Hospital")
    CLINIC = "clinic", _("Clinic")
    PHARMACY = "pharmacy", _("Pharmacy")


class InstitutionLevel(models.IntegerChoices):
    UNGRADED = 0, _("Ungraded")
    LEVEL_1 = 1, _("Level 1")
    LEVEL_2 = 2, _("Level 2")
    LEVEL_3 = 3, _("Level 3")


class Service(models.TextChoices):
    """Cross-provincial direct-settlement services an institution may offer."""

    INPATIENT = "inpatient", _("Inpatient")
    GENERAL_OUTPATIENT = "general_outpatient", _("General outpatient")
    CHRONIC_OUTPATIENT = "chronic_outpatient", _("Outpatient chronic/special diseases")


class Scheme(models.TextChoices):
    EMPLOYEE = "employee", _("Employee basic medical insurance")
    RESIDENT = "resident", _("Urban-rural resident medical insurance")


# The e-code claims carry the scheme as a number (ecode.md: 1 employee, 2 resident).
SCHEME_CODES = {Scheme.EMPLOYEE: 1, Scheme.RESIDENT: 2}
