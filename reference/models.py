from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import InstitutionKind, InstitutionLevel, RegionLevel, Service


class Region(models.Model):
    """A province-level or prefecture-level division (GB/T 2260), and whether it is a pooling area (统筹区)."""

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=50)
    level = models.CharField(_("level"), max_length=12, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("province"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    is_pooling_area = models.BooleanField(_("pooling area"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def code_range(self) -> tuple[str, str]:
        """The first and last code a region of this province can have (its code and its children's)."""
        return self.code[:2] + "0000", self.code[:2] + "9999"

    @property
    def full_name(self) -> str:
        if self.parent_id and self.parent_id != self.code:
            return f"{self.parent.name}{self.name}"
        return self.name


class InstitutionQuerySet(models.QuerySet):
    def in_region(self, region: Region):
        """Institutions located in a pooling area, or anywhere in a province.

        A province is the range of codes that share its first two digits (GB/T 2260), so the (region, kind,
        level) index serves it; a join to the parent region could not use it.
        """
        if region.level == RegionLevel.PROVINCE:
            low, high = region.code_range
            return self.filter(region_id__gte=low, region_id__lte=high)
        return self.filter(region_id=region.code)

    def settling(self):
        """Institutions that can settle cross-provincial bills now."""
        return self.filter(active=True, networked=True)

    def offering(self, service: str):
        return self.filter(**{Institution.SERVICE_FIELDS[Service(service)]: True})


class Institution(models.Model):
    """A designated medical institution or retail pharmacy (定点医药机构)."""

    SERVICE_FIELDS = {
        Service.INPATIENT: "inpatient",
        Service.GENERAL_OUTPATIENT: "general_outpatient",
        Service.CHRONIC_OUTPATIENT: "chronic_outpatient",
    }

    code = models.CharField(_("national code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=120, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=InstitutionKind.choices)
    level = models.PositiveSmallIntegerField(_("level"), choices=InstitutionLevel.choices, default=0)
    region = models.ForeignKey(
        Region,
        verbose_name=_("pooling area"),
        on_delete=models.PROTECT,
        related_name="institutions",
        limit_choices_to={"is_pooling_area": True},
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    inpatient = models.BooleanField(_("inpatient"), default=False)
    general_outpatient = models.BooleanField(_("general outpatient"), default=False)
    chronic_outpatient = models.BooleanField(_("chronic/special disease outpatient"), default=False)
    networked = models.BooleanField(_("in the national settlement network"), default=False)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("designated institution")
        verbose_name_plural = _("designated institutions")
        indexes = [models.Index(fields=["region", "kind", "level"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[HP][0-9]{11}$"), name="institution_code_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def services(self) -> list[str]:
        return [service.value for service, field in self.SERVICE_FIELDS.items() if getattr(self, field)]

    def offers(self, service: str) -> bool:
        return bool(getattr(self, self.SERVICE_FIELDS[Service(service)]))
