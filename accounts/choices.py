from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PERSON = "person", _("Insured person")
    REVIEWER = "reviewer", _("Agency reviewer")
    COUNTER = "counter", _("Counter operator")
    ADMIN = "admin", _("Administrator")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "中文"
    EN = "en", "English"


class PersonStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class AssistanceCategory(models.TextChoices):
    """Eligibility for medical assistance (医疗救助)."""

    NONE = "", _("Not eligible")
    LOW_INCOME = "low_income", _("Low-income (subsistence allowance)")
    EXTREMELY_POOR = "extremely_poor", _("Extremely poor (subsistence support)")
    LOW_INCOME_MARGINAL = "marginal", _("Low-income marginal family")


class IdentityKind(models.TextChoices):
    """Identities of people in need that the insured area's civil-affairs and rural-revitalisation departments
    confirm (国办发〔2021〕42号); each is held with the dates it is valid."""

    EXTREMELY_POOR = "extremely_poor", _("Extremely poor (subsistence support)")
    LOW_INCOME = "low_income", _("Low-income (subsistence allowance)")
    POVERTY_RISK = "poverty_risk", _("At risk of returning to poverty")
    LOW_INCOME_MARGINAL = "marginal", _("Low-income marginal family")


class ChronicDisease(models.TextChoices):
    """Outpatient chronic and special diseases (门诊慢特病) of the national cross-provincial direct-settlement
    list; an insured area may certify people for them and set a yearly limit per disease."""

    HYPERTENSION = "hypertension", _("Hypertension")
    DIABETES = "diabetes", _("Diabetes")
    TUMOUR_THERAPY = (
        "tumour_therapy",
        _("Malignant tumour outpatient chemo/radiotherapy"),
    )
    URAEMIA_DIALYSIS = "uraemia_dialysis", _("Uraemia dialysis")
    TRANSPLANT_ANTI_REJECTION = (
        "anti_rejection",
        _("Anti-rejection treatment after organ transplant"),
    )
