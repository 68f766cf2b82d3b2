from django.db import models
from django.utils.translation import gettext_lazy as _

from reference.choices import Service

# A visit is settled as one of the services an institution offers for direct settlement.
VisitType = Service


class ItemCategory(models.TextChoices):
    DRUG = "drug", _("Drug")
    SERVICE = "service", _("Medical service")
    CONSUMABLE = "consumable", _("Medical consumable")


class CoverageClass(models.TextChoices):
    """The catalogue class of an item: what share basic insurance may cover."""

    A = "A", _("Class A (甲): fully covered")
    B = "B", _("Class B (乙): covered after a personal first share")
    C = "C", _("Class C (丙): not covered")


class SettlementStatus(models.TextChoices):
    SETTLED = "settled", _("Settled")
    REVERSED = "reversed", _("Reversed")


class ClearingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    CONFIRMED = "confirmed", _("Confirmed")


class FlagKind(models.TextChoices):
    MULTI_CITY = "multi_city", _("Same credential in different cities within a short time")
    FREQUENT = "frequent", _("More settlements per day than the threshold")
    INSTITUTION_VOLUME = "institution_volume", _("Abnormal institution volume")


class FlagStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DISMISSED = "dismissed", _("Dismissed")
    CONFIRMED = "confirmed", _("Confirmed")


class TemporaryTerms(models.TextChoices):
    """How the insured place reduces the benefit of temporary filers (referral, emergency, other temporary)."""

    CUT = "cut", _("Cut the fund ratio by the group's points")
    FIRST_SHARE = "first_share", _("The person first pays the group's share of the eligible amount")
