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
    EXTREMELY_POOR = "extremely_poor", _("Extremely poor (特困)")
    LOW_INCOME_MARGINAL = "marginal", _("Low-income marginal family")
