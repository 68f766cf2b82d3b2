"""Filings (备案), their picked institutions and documents, and the per-area rules that govern them.

A filing's state changes only through `filing.services`. The database keeps a person to one filing under review
per scheme (a partial unique index, on every database) and, on PostgreSQL, to approved filings whose date ranges
do not overlap per scheme (an exclusion constraint added by migration 0002). Emergency filings record one episode
that counts as filed, so they are left out of both.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.masking import mask_id_number, mask_name, mask_phone
from reference.choices import Scheme, Service

from .choices import (
    LONG_TERM_GROUPS,
    Channel,
    DocumentKind,
    FilingGroup,
    FilingStatus,
    ProxyRelation,
)
from .documents import document_upload_to, private_storage

# National rules (医保发〔2022〕22号): temporary filings last at least six months; an insured area may ask
# long-term filers to wait at most six months before a change or cancellation.
MIN_TEMPORARY_VALIDITY_MONTHS = 6
MAX_MONTHS_BEFORE_CHANGE = 6


class FilingPolicy(models.Model):
    """The filing rules of one insured pooling area. The row without an area is the default for every area
    that has no row of its own (created by migration with the national defaults)."""

    region = models.ForeignKey(
        "reference.Region",
        verbose_name=_("insured pooling area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"is_pooling_area": True},
        help_text=_("Empty for the default policy of areas without their own."),
    )
    pick_required = models.BooleanField(
        _("institutions must be picked"),
        default=False,
        help_text=_(
            "Unticked: every networked institution in the destination settles directly; people may "
            "still pick favourites."
        ),
    )
    max_institutions = models.PositiveSmallIntegerField(
        _("most institutions a person may pick"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
    )
    review_deadline_days = models.PositiveSmallIntegerField(
        _("review deadline (working days)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    instant_approval = models.BooleanField(
        _("approve complete commitment filings at once"),
        default=False,
        help_text=_(
            "A filing made on a signed commitment, with everything else in order, is approved when submitted."
        ),
    )
    retroactive_days = models.PositiveSmallIntegerField(
        _("retroactive filing allowed (days)"),
        default=90,
        validators=[MaxValueValidator(365)],
        help_text=_(
            "How many days before today a filing may start (补办, before discharge settlement); "
            "0 forbids retroactive filing."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("filing policy")
        verbose_name_plural = _("filing policies")
        constraints = [
            # One row per area and a single default row (no area).
            models.UniqueConstraint(Coalesce("region", Value("")), name="filing_policy_one_per_region"),
        ]

    def __str__(self) -> str:
        if self.region_id is None:
            return str(_("Default policy (areas without their own)"))
        return str(self.region)

    @property
    def is_default(self) -> bool:
        return self.region_id is None


class GroupRule(models.Model):
    """What one group needs under one policy: materials, validity, waiting period, eligibility."""

    policy = models.ForeignKey(
        FilingPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="rules"
    )
    group = models.CharField(_("filing group"), max_length=12, choices=FilingGroup.choices)
    accepted = models.BooleanField(_("accepted"), default=True)
    materials = models.JSONField(
        _("required materials"),
        default=list,
        blank=True,
        help_text=_("Document kinds the person must upload besides the ID and the filing form."),
    )
    commitment_allowed = models.BooleanField(
        _("a signed commitment may replace the materials"), default=False
    )
    validity_months = models.PositiveSmallIntegerField(
        _("validity (months)"),
        null=True,
        blank=True,
        help_text=_("Temporary groups: at least 6. Empty for long-term groups: valid until cancelled."),
    )
    max_validity_months = models.PositiveSmallIntegerField(
        _("longest validity a person may ask for (months)"),
        null=True,
        blank=True,
        help_text=_("Temporary groups only; empty means the validity above is the only choice."),
    )
    min_months_before_change = models.PositiveSmallIntegerField(
        _("minimum months before a change or cancellation"),
        default=0,
        validators=[MaxValueValidator(MAX_MONTHS_BEFORE_CHANGE)],
    )
    retired_required = models.BooleanField(_("the person must be retired"), default=False)
    auto_approve = models.BooleanField(
        _("approved on submission"),
        default=False,
        help_text=_("For groups that count as filed, such as emergency treatment."),
    )
    required_service = models.CharField(
        _("service the picked institutions must offer"), max_length=20, choices=Service.choices, blank=True
    )

    class Meta:
        verbose_name = _("group rule")
        verbose_name_plural = _("group rules")
        ordering = ["policy", "group"]
        constraints = [models.UniqueConstraint(fields=["policy", "group"], name="group_rule_once_per_policy")]

    def __str__(self) -> str:
        return f"{self.policy} · {self.get_group_display()}"

    @property
    def long_term(self) -> bool:
        return self.group in LONG_TERM_GROUPS

    def clean(self):
        errors = {}
        unknown = [m for m in self.materials or [] if m not in DocumentKind.values]
        if not isinstance(self.materials, list) or unknown:
            errors["materials"] = _("Unknown document kinds: %(kinds)s") % {
                "kinds": ", ".join(map(str, unknown))
            }
        if self.long_term and (self.validity_months or self.max_validity_months):
            errors["validity_months"] = _("Long-term filings are valid until cancelled; leave this empty.")
        if not self.long_term:
            if (self.validity_months or 0) < MIN_TEMPORARY_VALIDITY_MONTHS:
                errors["validity_months"] = _("Temporary filings are valid for at least 6 months.")
            elif self.max_validity_months and self.max_validity_months < self.validity_months:
                errors["max_validity_months"] = _("The longest validity cannot be shorter than the validity.")
        if errors:
            raise ValidationError(errors)


class Holiday(models.Model):
    """A public holiday, or a weekend day worked instead (调休), for review deadlines in working days."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=40)
    is_working_day = models.BooleanField(_("working day"), default=False)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Filing(models.Model):
    """One application to settle directly in a destination outside the insured province."""

    serial = models.CharField(_("serial number"), max_length=24, unique=True, editable=False)
    person = models.ForeignKey(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        on_delete=models.PROTECT,
        related_name="filings",
    )
    scheme = models.CharField(_("scheme"), max_length=10, choices=Scheme.choices)
    group = models.CharField(_("filing group"), max_length=12, choices=FilingGroup.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=FilingStatus.choices, default=FilingStatus.DRAFT, db_index=True
    )
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, default=Channel.WEB)
    insured_region = models.ForeignKey(
        "reference.Region", verbose_name=_("insured pooling area"), on_delete=models.PROTECT, related_name="+"
    )
    destination = models.ForeignKey(
        "reference.Region", verbose_name=_("destination"), on_delete=models.PROTECT, related_name="+"
    )
    destination_address = EncryptedTextField(_("address in the destination"), blank=True, default="")
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True, help_text=_("Empty: until cancelled."))
    institutions = models.ManyToManyField(
        "reference.Institution",
        verbose_name=_("picked institutions"),
        through="FilingInstitution",
        related_name="filings",
        blank=True,
    )
    commitment = models.BooleanField(_("signed personal commitment"), default=False)
    # Copied from the policy when the filing is written, so a later policy change does not move settled ground.
    pick_required = models.BooleanField(_("settles only at picked institutions"), default=False)

    proxy_name = EncryptedTextField(_("proxy applicant name"), blank=True, default="")
    proxy_id_number = EncryptedTextField(_("proxy applicant ID number"), blank=True, default="")
    proxy_phone = EncryptedTextField(_("proxy applicant phone"), blank=True, default="")
    proxy_relation = models.CharField(
        _("proxy applicant relation"), max_length=10, choices=ProxyRelation.choices, blank=True
    )
    # Masked copies of the person's ID and phone, so reviewers can search the queue by what they are shown.
    masked_id_number = models.CharField(
        _("ID number"), max_length=24, blank=True, db_index=True, editable=False
    )
    masked_phone = models.CharField(
        _("mobile phone"), max_length=16, blank=True, db_index=True, editable=False
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    review_deadline = models.DateField(_("review deadline"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reason = models.TextField(
        _("reason"), blank=True, help_text=_("Why it was rejected, revoked or cancelled.")
    )
    fix_hint = models.TextField(_("how to fix it"), blank=True)
    supersedes = models.ForeignKey(
        "self",
        verbose_name=_("changes filing"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    submit_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    expiry_reminded_at = models.DateTimeField(
        _("expiry reminder sent"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("filing")
        verbose_name_plural = _("filings")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["insured_region", "status", "submitted_at"], name="filing_review_queue"),
            models.Index(fields=["person", "status"], name="filing_person_status"),
            models.Index(fields=["status", "end_date"], name="filing_status_end"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "scheme"],
                condition=Q(status="submitted") & ~Q(group="emergency"),
                name="filing_one_under_review_per_scheme",
            ),
            models.UniqueConstraint(
                fields=["person", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="filing_idempotency_key_per_person",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="filing_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.serial} {self.get_group_display()}"

    @property
    def long_term(self) -> bool:
        return self.group in LONG_TERM_GROUPS

    @property
    def all_institutions(self) -> bool:
        """Every networked institution in the destination settles (no pick required)."""
        return not self.pick_required

    @property
    def has_proxy(self) -> bool:
        return bool(self.proxy_relation)

    @property
    def proxy_masked(self) -> dict | None:
        if not self.has_proxy:
            return None
        return {
            "name": mask_name(self.proxy_name),
            "id_number": mask_id_number(self.proxy_id_number),
            "phone": mask_phone(self.proxy_phone),
            "relation": self.proxy_relation,
        }


class FilingInstitution(models.Model):
    """An institution picked on a filing (选点), in the order the person chose."""

    filing = models.ForeignKey(Filing, on_delete=models.CASCADE, related_name="picks")
    institution = models.ForeignKey("reference.Institution", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("picked institution")
        verbose_name_plural = _("picked institutions")
        constraints = [
            models.UniqueConstraint(fields=["filing", "institution"], name="filing_institution_once"),
        ]

    def __str__(self) -> str:
        return f"{self.filing_id}:{self.institution_id}"


class FilingDocument(models.Model):
    """An uploaded supporting document, stored outside public paths under a random name."""

    filing = models.ForeignKey(
        Filing, verbose_name=_("filing"), on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DocumentKind.choices)
    file = models.FileField(_("file"), storage=private_storage, upload_to=document_upload_to, max_length=200)
    content_type = models.CharField(_("content type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("filing document")
        verbose_name_plural = _("filing documents")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def extension(self) -> str:
        return {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
            self.content_type, "bin"
        )

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def download_name(self) -> str:
        return f"{self.kind}-{self.pk}.{self.extension}"


class Referral(models.Model):
    """What a referring hospital of the insured area says about a referral filing it made (national 2501)."""

    filing = models.OneToOneField(
        Filing, verbose_name=_("filing"), on_delete=models.CASCADE, related_name="referral"
    )
    institution = models.ForeignKey(
        "reference.Institution",
        verbose_name=_("referring institution"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    diagnosis_code = models.CharField(_("diagnosis code"), max_length=30)
    diagnosis_name = models.CharField(_("diagnosis"), max_length=100)
    condition = models.TextField(_("condition"), blank=True)
    destination_institution = models.CharField(
        _("receiving institution code"), max_length=12, blank=True, help_text=_("As the hospital gave it.")
    )
    referral_type = models.CharField(_("referral type"), max_length=6)
    referral_date = models.DateField(_("referral date"))
    reason = models.TextField(_("reason for the referral"))
    opinion = models.TextField(_("opinion of the referring hospital"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral by a hospital")
        verbose_name_plural = _("referrals by hospitals")

    def __str__(self) -> str:
        return f"{self.institution} · {self.diagnosis_name}"
