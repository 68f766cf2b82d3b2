"""Rules as data (catalogue, policy), settlements and their lines, year-to-date accumulators, clearing between
provinces and fund-supervision flags."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import ChronicDisease, IdentityKind
from core.money import MoneyField
from reference.choices import InstitutionLevel, Scheme

from .choices import (
    ClearingStatus,
    CoverageClass,
    FlagKind,
    FlagStatus,
    ItemCategory,
    SettlementStatus,
    TemporaryTerms,
    VisitType,
)

# Every money column holds less than this (yuan): a MoneyField has 14 digits, two of them decimals.
MONEY_LIMIT = Decimal(10) ** 12
RATIO = {"max_digits": 5, "decimal_places": 4, "validators": [MinValueValidator(0), MaxValueValidator(1)]}
ZERO = Decimal("0.00")
# 医保发〔2022〕22号: the benefit of temporary filers may be reduced, by at most 10 points for referrals and
# emergencies and at most 20 points for other temporary filers (one area cuts 15); the same ceilings hold for
# the "first personal share" some areas use instead of a cut.
MAX_GROUP_CUT = Decimal("0.20")
MAX_REFERRAL_CUT = Decimal("0.10")
# 国办发〔2021〕42号: for the extremely poor, low-income people and people at risk of returning to poverty the
# critical-illness threshold is halved, each segment's ratio raised by 5 points and the cap lifted.
NATIONAL_PREFERENTIAL_IDENTITIES = [
    IdentityKind.EXTREMELY_POOR.value,
    IdentityKind.LOW_INCOME.value,
    IdentityKind.POVERTY_RISK.value,
]


def national_preferential_identities() -> list[str]:
    return list(NATIONAL_PREFERENTIAL_IDENTITIES)


def _money(label, **kwargs):
    return MoneyField(label, default=ZERO, validators=[MinValueValidator(0)], **kwargs)


# --- The treatment place's catalogue -------------------------------------------------------------------------


class Catalogue(models.Model):
    """The medical-insurance catalogue of one treatment province (就医地目录)."""

    province = models.OneToOneField(
        "reference.Region",
        verbose_name=_("province"),
        on_delete=models.PROTECT,
        related_name="catalogue",
        limit_choices_to={"level": "province"},
    )
    class_b_first_share = models.DecimalField(
        _("class B first share"),
        default=Decimal("0.10"),
        help_text=_("The personal first share (先行自付) of class B items unless an item sets its own."),
        **RATIO,
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("catalogue")
        verbose_name_plural = _("catalogues")
        ordering = ["province_id"]

    def __str__(self) -> str:
        return str(self.province)


class CatalogueItem(models.Model):
    """A drug, medical service or consumable of a province's catalogue, with its national code and class."""

    catalogue = models.ForeignKey(
        Catalogue, verbose_name=_("catalogue"), on_delete=models.CASCADE, related_name="items"
    )
    code = models.CharField(_("national code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=12, choices=ItemCategory.choices)
    coverage_class = models.CharField(_("class"), max_length=1, choices=CoverageClass.choices)
    first_share_rate = models.DecimalField(
        _("first share"),
        null=True,
        blank=True,
        help_text=_("Class B only; empty means the catalogue's default."),
        **RATIO,
    )
    max_price = models.DecimalField(
        _("payment standard (highest payable unit price)"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Above it the person pays the difference (超限价自付); empty means no payment standard."),
    )
    restriction = models.CharField(
        _("restricted use"),
        max_length=200,
        blank=True,
        help_text=_(
            "Payable only for this condition (限定支付范围), when the counter confirms it for the line; "
            "otherwise the person pays the item."
        ),
    )
    min_level = models.PositiveSmallIntegerField(
        _("payable from institution level"),
        null=True,
        blank=True,
        choices=InstitutionLevel.choices,
        help_text=_("Payable only at institutions of this level or higher; empty means at every level."),
    )
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        ordering = ["catalogue_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["catalogue", "code"], name="catalogue_item_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def effective_first_share(self) -> Decimal:
        if self.coverage_class != CoverageClass.B:
            return ZERO
        return (
            self.first_share_rate if self.first_share_rate is not None else self.catalogue.class_b_first_share
        )


# --- The insured place's policy ------------------------------------------------------------------------------


class Policy(models.Model):
    """The insured place's benefit policy (参保地政策) for one pooling area, scheme and year, from a date on.

    A later `effective_from` in the same year makes a new version; a settlement uses the version in force on
    its visit date and keeps a copy of the terms it applied.
    """

    region = models.ForeignKey(
        "reference.Region",
        verbose_name=_("insured pooling area"),
        on_delete=models.PROTECT,
        related_name="settlement_policies",
        limit_choices_to={"is_pooling_area": True},
    )
    scheme = models.CharField(_("scheme"), max_length=10, choices=Scheme.choices)
    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    effective_from = models.DateField(_("effective from"))
    name = models.CharField(_("name"), max_length=120, blank=True)
    annual_cap = MoneyField(_("basic fund annual cap"), validators=[MinValueValidator(0)])
    deductible_per_admission = models.BooleanField(
        _("inpatient deductible per admission"),
        default=True,
        help_text=_("Charge the inpatient deductible at every admission; otherwise once a year."),
    )
    repeat_admission_factor = models.DecimalField(
        _("deductible factor for later admissions"),
        default=Decimal("1.00"),
        help_text=_("The second and later admissions in a year pay the deductible times this (1: the same)."),
        **RATIO,
    )
    temporary_terms = models.CharField(
        _("reduction for temporary filers"),
        max_length=12,
        choices=TemporaryTerms.choices,
        default=TemporaryTerms.CUT,
        help_text=_("A cut of the fund ratio, or a first personal share of the eligible amount instead."),
    )
    temporary_cut = models.DecimalField(
        _("reduction for other temporary filers"),
        default=Decimal("0.10"),
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_GROUP_CUT)],
        help_text=_("Points cut or first personal share for people filed as other temporary (at most 0.20)."),
    )
    referral_cut = models.DecimalField(
        _("reduction for referrals"),
        default=ZERO,
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_REFERRAL_CUT)],
        help_text=_("At most 0.10 (医保发〔2022〕22号)."),
    )
    emergency_cut = models.DecimalField(
        _("reduction for emergencies"),
        default=ZERO,
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_REFERRAL_CUT)],
        help_text=_("At most 0.10 (医保发〔2022〕22号)."),
    )
    critical_threshold = MoneyField(
        _("critical illness threshold"),
        default=ZERO,
        validators=[MinValueValidator(0)],
        help_text=_("Yearly personal burden within the eligible scope above which critical illness pays."),
    )
    critical_cap = MoneyField(
        _("critical illness annual cap"), default=ZERO, validators=[MinValueValidator(0)]
    )
    large_amount_ratio = models.DecimalField(
        _("large-amount cover ratio"),
        default=ZERO,
        help_text=_(
            "Employees' large-amount cover (大额医疗费用补助): the share it pays of the eligible costs above the "
            "basic fund's annual cap; 0 means none."
        ),
        **RATIO,
    )
    large_amount_cap = MoneyField(
        _("large-amount cover annual cap"), default=ZERO, validators=[MinValueValidator(0)]
    )
    general_outpatient_cap = MoneyField(
        _("general outpatient annual limit"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_(
            "The most the basic fund pays for general outpatient visits in a year; empty: no own limit."
        ),
    )
    general_outpatient_counts_to_critical = models.BooleanField(
        _("general outpatient costs count toward critical illness"),
        default=True,
        help_text=_(
            "Whether the burden of general outpatient visits counts toward the critical-illness threshold."
        ),
    )
    preferential_identities = models.JSONField(
        _("identities with preferential critical-illness terms"),
        default=national_preferential_identities,
        blank=True,
        help_text=_("National rule: extremely poor, low-income and at risk of returning to poverty."),
    )
    preferential_threshold_factor = models.DecimalField(
        _("preferential threshold factor"),
        default=Decimal("0.50"),
        help_text=_(
            "The critical-illness threshold is multiplied by this for people in need (national: 0.50)."
        ),
        **RATIO,
    )
    preferential_ratio_bonus = models.DecimalField(
        _("preferential ratio bonus"),
        default=Decimal("0.05"),
        help_text=_("Points added to every critical-illness segment for people in need (national: 0.05)."),
        **RATIO,
    )
    preferential_uncapped = models.BooleanField(_("no critical-illness cap for people in need"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("benefit policy")
        verbose_name_plural = _("benefit policies")
        ordering = ["region_id", "scheme", "-year", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "scheme", "year", "effective_from"], name="policy_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(temporary_cut__lte=MAX_GROUP_CUT)
                & Q(referral_cut__lte=MAX_REFERRAL_CUT)
                & Q(emergency_cut__lte=MAX_REFERRAL_CUT),
                name="policy_cut_within_national_ceiling",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region_id} {self.get_scheme_display()} {self.year} ({self.effective_from:%Y-%m-%d})"

    def clean(self):
        if self.effective_from and self.year and self.effective_from.year != self.year:
            raise ValidationError({"effective_from": _("The effective date must fall in the policy year.")})
        if self.scheme == Scheme.RESIDENT and (self.large_amount_ratio or self.large_amount_cap):
            raise ValidationError(
                {"large_amount_ratio": _("The large-amount cover is for the employee scheme only.")}
            )
        identities = self.preferential_identities
        if not isinstance(identities, list) or not set(identities) <= set(IdentityKind.values):
            raise ValidationError({"preferential_identities": _("Choose identities from the list.")})


class PolicyRate(models.Model):
    """Deductible and fund ratio of one visit type at one institution level."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="rates")
    visit_type = models.CharField(_("visit type"), max_length=20, choices=VisitType.choices)
    institution_level = models.PositiveSmallIntegerField(
        _("institution level"), choices=InstitutionLevel.choices
    )
    deductible = MoneyField(_("deductible"), validators=[MinValueValidator(0)])
    fund_ratio = models.DecimalField(_("fund ratio"), **RATIO)
    retiree_fund_ratio = models.DecimalField(_("retirees' fund ratio"), null=True, blank=True, **RATIO)
    retiree_deductible = MoneyField(
        _("retirees' deductible"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Empty: the same deductible."),
    )

    class Meta:
        verbose_name = _("deductible and ratio")
        verbose_name_plural = _("deductibles and ratios")
        ordering = ["visit_type", "institution_level"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "visit_type", "institution_level"], name="policy_rate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_visit_type_display()} / {self.get_institution_level_display()}"


class CriticalIllnessTier(models.Model):
    """Critical illness pays `ratio` on the part above the threshold from `lower` up to the next tier."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="critical_tiers")
    lower = MoneyField(_("from (above the threshold)"), validators=[MinValueValidator(0)])
    ratio = models.DecimalField(_("ratio"), **RATIO)

    class Meta:
        verbose_name = _("critical illness tier")
        verbose_name_plural = _("critical illness tiers")
        ordering = ["lower"]
        constraints = [models.UniqueConstraint(fields=["policy", "lower"], name="critical_tier_unique")]

    def __str__(self) -> str:
        return f"≥ {self.lower}: {self.ratio}"


class AssistanceRule(models.Model):
    """Medical assistance (医疗救助) for one category of people (an identity of need): after a yearly deductible,
    a ratio of what basic insurance and critical illness left, up to a yearly cap; inpatient and outpatient
    separately where the outpatient fields are set."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="assistance_rules")
    category = models.CharField(_("category"), max_length=16, choices=IdentityKind.choices)
    deductible = MoneyField(
        _("inpatient assistance deductible"),
        default=ZERO,
        validators=[MinValueValidator(0)],
        help_text=_("Charged once a year before assistance pays on inpatient bills."),
    )
    ratio = models.DecimalField(_("inpatient ratio"), **RATIO)
    annual_cap = MoneyField(
        _("annual cap"),
        validators=[MinValueValidator(0)],
        help_text=_("Inpatient cap; for outpatient bills too unless an outpatient cap is set."),
    )
    outpatient_deductible = MoneyField(
        _("outpatient assistance deductible"), default=ZERO, validators=[MinValueValidator(0)]
    )
    outpatient_ratio = models.DecimalField(
        _("outpatient ratio"),
        null=True,
        blank=True,
        help_text=_("Empty: the inpatient ratio."),
        **RATIO,
    )
    outpatient_cap = MoneyField(
        _("outpatient annual cap"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Empty: outpatient assistance shares the annual cap above."),
    )

    class Meta:
        verbose_name = _("medical assistance rule")
        verbose_name_plural = _("medical assistance rules")
        constraints = [models.UniqueConstraint(fields=["policy", "category"], name="assistance_rule_unique")]

    def __str__(self) -> str:
        return self.get_category_display()


class DiseaseLimit(models.Model):
    """The basic fund's yearly limit for one outpatient chronic/special disease (门诊慢特病)."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="disease_limits")
    disease = models.CharField(_("disease"), max_length=20, choices=ChronicDisease.choices)
    annual_limit = MoneyField(_("annual limit"), validators=[MinValueValidator(0)])

    class Meta:
        verbose_name = _("chronic disease limit")
        verbose_name_plural = _("chronic disease limits")
        ordering = ["disease"]
        constraints = [models.UniqueConstraint(fields=["policy", "disease"], name="disease_limit_unique")]

    def __str__(self) -> str:
        return f"{self.get_disease_display()}: {self.annual_limit}"


# --- Accumulators and settlements ----------------------------------------------------------------------------


class Accumulator(models.Model):
    """What a person's year has used so far, per scheme: so the deductible is charged once and caps hold."""

    person = models.ForeignKey(
        "accounts.InsuredPerson", on_delete=models.PROTECT, related_name="accumulators"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    scheme = models.CharField(_("scheme"), max_length=10, choices=Scheme.choices)
    deductible_inpatient = _money(_("inpatient deductible paid"))
    deductible_general_outpatient = _money(_("general outpatient deductible paid"))
    deductible_chronic_outpatient = _money(_("chronic outpatient deductible paid"))
    basic_fund_paid = _money(_("basic fund paid"))
    large_amount_paid = _money(_("large-amount cover paid"))
    critical_fund_paid = _money(_("critical illness paid"))
    assistance_paid = _money(_("medical assistance paid"))
    assistance_outpatient_paid = _money(_("outpatient medical assistance paid"))
    assistance_deductible_inpatient = _money(_("inpatient assistance deductible charged"))
    assistance_deductible_outpatient = _money(_("outpatient assistance deductible charged"))
    general_outpatient_basic_paid = _money(_("basic fund paid for general outpatient visits"))
    admissions = models.PositiveSmallIntegerField(_("inpatient admissions"), default=0)
    # {disease: "yuan"}: the basic fund paid this year per certified chronic/special disease.
    disease_basic_paid = models.JSONField(_("basic fund paid per chronic disease"), default=dict, blank=True)
    burden = _money(_("personal burden within the eligible scope"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("year-to-date accumulator")
        verbose_name_plural = _("year-to-date accumulators")
        constraints = [
            models.UniqueConstraint(fields=["person", "year", "scheme"], name="accumulator_unique")
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.year} {self.scheme}"

    @staticmethod
    def deductible_field(visit_type: str) -> str:
        return f"deductible_{visit_type}"

    @staticmethod
    def assistance_deductible_field(visit_type: str) -> str:
        return "assistance_deductible_" + ("inpatient" if visit_type == VisitType.INPATIENT else "outpatient")

    @property
    def deductible_paid(self) -> Decimal:
        return (
            self.deductible_inpatient
            + self.deductible_general_outpatient
            + self.deductible_chronic_outpatient
        )


class Settlement(models.Model):
    """One bill settled directly at a counter: the split between the funds and the person."""

    # Unique by settlement_number_unique (a constraint: unique=True would add a LIKE twin nothing uses).
    number = models.CharField(_("settlement number"), max_length=24, editable=False)
    # The foreign keys below without an index of their own are indexed by a Meta index that starts with them.
    person = models.ForeignKey(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        on_delete=models.PROTECT,
        related_name="settlements",
        db_index=False,
    )
    institution = models.ForeignKey(
        "reference.Institution",
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="settlements",
        db_index=False,
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="+"
    )
    # One consumed e-code settles once; inpatient discharge by filing + ID number has no code event.
    code_event = models.OneToOneField(
        "ecode.CodeEvent",
        verbose_name=_("e-code use"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement",
    )
    filing = models.ForeignKey(
        "filing.Filing",
        verbose_name=_("filing"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlements",
    )
    filing_group = models.CharField(_("filing group"), max_length=12, blank=True)
    emergency = models.BooleanField(_("emergency"), default=False)
    request_no = models.CharField(_("request number"), max_length=64, blank=True)
    visit_type = models.CharField(_("visit type"), max_length=20, choices=VisitType.choices)
    disease = models.CharField(
        _("chronic disease"), max_length=20, blank=True, choices=ChronicDisease.choices
    )
    visit_date = models.DateField(_("visit or discharge date"))
    admission_date = models.DateField(_("admission date"), null=True, blank=True)
    discharge_date = models.DateField(_("discharge date"), null=True, blank=True)
    scheme = models.CharField(_("scheme"), max_length=10, choices=Scheme.choices)
    insured_region = models.ForeignKey(
        "reference.Region",
        verbose_name=_("insured pooling area"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # Indexed together with treatment_province and settled_at (clearing, the admin's province filter). The
    # treatment province alone is only an admin filter within a period: settlement_recent_idx serves it.
    insured_province = models.CharField(_("insured province"), max_length=6)
    treatment_province = models.CharField(_("treatment province"), max_length=6)
    institution_level = models.PositiveSmallIntegerField(
        _("institution level"), choices=InstitutionLevel.choices
    )
    retired = models.BooleanField(_("retired"), default=False)
    assistance_category = models.CharField(_("medical assistance category"), max_length=16, blank=True)
    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="+")

    total = _money(_("total"))
    self_paid = _money(_("self-paid items"))
    first_share = _money(_("class B first share"))
    eligible = _money(_("eligible amount"))
    overlmt_selfpay = _money(_("above the payment standard"))
    group_share = _money(_("first personal share of temporary filers"))
    deductible = _money(_("deductible"))
    ratio = models.DecimalField(_("basic fund ratio"), **RATIO)
    basic_fund = _money(_("basic fund"))
    large_amount_fund = _money(_("large-amount cover"))
    critical_fund = _money(_("critical illness insurance"))
    assistance_fund = _money(_("medical assistance"))
    person_pays = _money(_("person pays"))
    account_pay = _money(_("paid from the personal account"))
    account_balance_after = MoneyField(
        _("personal account balance after"), null=True, blank=True, validators=[MinValueValidator(0)]
    )
    fund_ratio = models.DecimalField(_("share paid by the funds"), **RATIO)
    # The policy terms and the accumulators before and after, as applied: a settlement explains itself later.
    details = models.JSONField(_("calculation details"), default=dict, blank=True)

    status = models.CharField(
        _("status"),
        max_length=10,
        choices=SettlementStatus.choices,
        default=SettlementStatus.SETTLED,
    )  # nearly every row is settled: only the reversed ones are worth an index (settlement_reversed_idx)
    settled_at = models.DateTimeField(_("settled"), default=timezone.now)  # settlement_recent_idx
    reversed_at = models.DateTimeField(_("reversed"), null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reversed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reversal_reason = models.CharField(_("reversal reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-settled_at", "-id"]
        indexes = [
            models.Index(fields=["person", "-settled_at"]),
            models.Index(fields=["institution", "-settled_at"]),
            models.Index(fields=["insured_province", "treatment_province", "settled_at"]),
            # The admin list's order (newest first), read backwards.
            models.Index(fields=["settled_at", "id"], name="settlement_recent_idx"),
            # A reviewer's list (their area, newest first), and the foreign key's index.
            models.Index(fields=["insured_region", "-settled_at"], name="settlement_area_idx"),
            # The admin's filter of the reversed ones, few among billions.
            models.Index(
                fields=["settled_at", "id"],
                condition=Q(status=SettlementStatus.REVERSED),
                name="settlement_reversed_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="settlement_number_unique"),
            models.UniqueConstraint(
                fields=["institution", "request_no"],
                condition=~Q(request_no=""),
                name="settlement_request_no_unique",
            ),
            # The split always adds up, whatever writes the row.
            models.CheckConstraint(
                condition=Q(
                    total=F("basic_fund")
                    + F("large_amount_fund")
                    + F("critical_fund")
                    + F("assistance_fund")
                    + F("person_pays")
                ),
                name="settlement_split_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(total=F("self_paid") + F("first_share") + F("eligible")),
                name="settlement_items_add_up",
            ),
            models.CheckConstraint(
                condition=Q(account_pay__lte=F("person_pays")), name="settlement_account_within_person_share"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def fund_total(self) -> Decimal:
        return self.basic_fund + self.large_amount_fund + self.critical_fund + self.assistance_fund

    @property
    def cash_pay(self) -> Decimal:
        return self.person_pays - self.account_pay

    @property
    def is_reversed(self) -> bool:
        return self.status == SettlementStatus.REVERSED


class SettlementLine(models.Model):
    """One billed item of a settlement: `amount = self_paid + first_share + eligible`."""

    # Indexed by settlement_line_unique, which starts with it.
    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveSmallIntegerField(_("line"))
    code = models.CharField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=12, blank=True, choices=ItemCategory.choices)
    coverage_class = models.CharField(_("class"), max_length=1, blank=True, choices=CoverageClass.choices)
    in_catalogue = models.BooleanField(_("in the catalogue"))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=4)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=4)
    amount = _money(_("amount"))
    self_paid = _money(_("self-paid"))
    first_share = _money(_("first share"))
    eligible = _money(_("eligible"))
    overlmt_selfpay = _money(_("above the payment standard"))
    self_pay_reason = models.CharField(_("why self-paid"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("settlement line")
        verbose_name_plural = _("settlement lines")
        ordering = ["settlement_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["settlement", "line_no"], name="settlement_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.line_no}. {self.name or self.code}"


class SettlementCorrection(models.Model):
    """A refund of part of a bill after the settlement day (更正 / 部分退费): the lines returned, and what each
    fund and the person give back. The amounts are the original split minus the reduced bill's split, both
    computed by the calculator on the terms and year-to-date totals recorded on the settlement. The settlement
    itself is never changed; a clearing statement carries the correction as an adjustment line."""

    number = models.CharField(_("correction number"), max_length=24, unique=True, editable=False)
    settlement = models.ForeignKey(
        Settlement, verbose_name=_("settlement"), on_delete=models.PROTECT, related_name="corrections"
    )
    institution = models.ForeignKey(
        "reference.Institution", verbose_name=_("institution"), on_delete=models.PROTECT, related_name="+"
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    request_no = models.CharField(_("request number"), max_length=64)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # [{"line_no": 1, "quantity": "2", "amount": "30.00"}]: what was returned of each line.
    returned = models.JSONField(_("lines returned"), default=list)
    total = MoneyField(_("total returned"), default=ZERO)
    basic_fund = MoneyField(_("basic fund"), default=ZERO)
    large_amount_fund = MoneyField(_("large-amount cover"), default=ZERO)
    critical_fund = MoneyField(_("critical illness insurance"), default=ZERO)
    assistance_fund = MoneyField(_("medical assistance"), default=ZERO)
    person_pays = MoneyField(_("person's share"), default=ZERO)
    account_pay = MoneyField(_("personal account"), default=ZERO)
    # The accumulator deltas given back, and the reduced bill's split.
    details = models.JSONField(_("calculation details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded"), default=timezone.now, db_index=True)
    statement = models.ForeignKey(
        "ClearingStatement",
        verbose_name=_("clearing statement"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="adjustments",
        help_text=_("The statement that carries this correction as an adjustment line."),
    )

    class Meta:
        verbose_name = _("settlement correction")
        verbose_name_plural = _("settlement corrections")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "request_no"], name="correction_request_no_unique"
            ),
            models.CheckConstraint(
                condition=Q(
                    total=F("basic_fund")
                    + F("large_amount_fund")
                    + F("critical_fund")
                    + F("assistance_fund")
                    + F("person_pays")
                ),
                name="correction_split_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def fund_total(self) -> Decimal:
        return self.basic_fund + self.large_amount_fund + self.critical_fund + self.assistance_fund


class PersonalAccount(models.Model):
    """An employee's personal account (个人账户): a balance the person may agree to pay their share from at an
    outpatient counter or pharmacy. Settlements lock it, take from it and record the balance after; a
    reversal gives the amount back."""

    person = models.OneToOneField(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        on_delete=models.PROTECT,
        related_name="personal_account",
    )
    balance = MoneyField(_("balance"), default=ZERO, validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("personal account")
        verbose_name_plural = _("personal accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="personal_account_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.balance}"


# --- Clearing between provinces ------------------------------------------------------------------------------


class ClearingStatement(models.Model):
    """One month's fund payments that an insured province owes a treatment province (先预付后清算)."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    insured_province = models.ForeignKey(
        "reference.Region", verbose_name=_("insured province"), on_delete=models.PROTECT, related_name="+"
    )
    treatment_province = models.ForeignKey(
        "reference.Region", verbose_name=_("treatment province"), on_delete=models.PROTECT, related_name="+"
    )
    scheme = models.CharField(
        _("scheme"),
        max_length=10,
        choices=Scheme.choices,
        blank=True,
        help_text=_("Employee or resident scheme; empty on statements made before the split by scheme."),
    )
    settlement_count = models.PositiveIntegerField(_("settlements"), default=0)
    adjustment_count = models.PositiveIntegerField(
        _("adjustments"),
        default=0,
        help_text=_("Corrections of earlier settlements carried here; the amounts are net of them."),
    )
    total = _money(_("total"))
    basic_fund = _money(_("basic fund"))
    large_amount_fund = _money(_("large-amount cover"))
    critical_fund = _money(_("critical illness insurance"))
    assistance_fund = _money(_("medical assistance"))
    fund_total = _money(_("funds"))
    account_pay = _money(_("personal accounts"))
    person_pays = _money(_("paid by people"))
    status = models.CharField(
        _("status"), max_length=10, choices=ClearingStatus.choices, default=ClearingStatus.DRAFT
    )
    built_at = models.DateTimeField(_("built"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    class Meta:
        verbose_name = _("clearing statement")
        verbose_name_plural = _("clearing statements")
        ordering = ["-month", "insured_province_id", "treatment_province_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "insured_province", "treatment_province", "scheme"],
                name="clearing_statement_unique",
            ),
            models.CheckConstraint(
                condition=Q(
                    fund_total=F("basic_fund")
                    + F("large_amount_fund")
                    + F("critical_fund")
                    + F("assistance_fund")
                ),
                name="clearing_funds_add_up",
            ),
        ]

    def __str__(self) -> str:
        scheme = f" {self.get_scheme_display()}" if self.scheme else ""
        return f"{self.month:%Y-%m} {self.insured_province_id} → {self.treatment_province_id}{scheme}"


class ClearingLine(models.Model):
    """One settlement counted in a clearing statement, with the amounts it contributed."""

    statement = models.ForeignKey(ClearingStatement, on_delete=models.CASCADE, related_name="lines")
    settlement = models.OneToOneField(Settlement, on_delete=models.PROTECT, related_name="clearing_line")
    institution = models.ForeignKey("reference.Institution", on_delete=models.PROTECT, related_name="+")
    total = _money(_("total"))
    basic_fund = _money(_("basic fund"))
    large_amount_fund = _money(_("large-amount cover"))
    critical_fund = _money(_("critical illness insurance"))
    assistance_fund = _money(_("medical assistance"))
    account_pay = _money(_("personal account"))
    person_pays = _money(_("paid by the person"))

    class Meta:
        verbose_name = _("clearing line")
        verbose_name_plural = _("clearing lines")
        ordering = ["statement_id", "settlement_id"]

    def __str__(self) -> str:
        return f"{self.statement} #{self.settlement_id}"


class Prepayment(models.Model):
    """Money an insured province has paid a treatment province in advance for a month (预付金)."""

    payer_province = models.ForeignKey(
        "reference.Region",
        verbose_name=_("paying (insured) province"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": "province"},
    )
    receiver_province = models.ForeignKey(
        "reference.Region",
        verbose_name=_("receiving (treatment) province"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": "province"},
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month it pre-pays."))
    amount = MoneyField(_("amount"), validators=[MinValueValidator(0)])
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("prepayment")
        verbose_name_plural = _("prepayments")
        ordering = ["-month", "payer_province_id", "receiver_province_id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(payer_province=F("receiver_province")), name="prepayment_between_provinces"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.payer_province_id} → {self.receiver_province_id}: {self.amount}"

    def clean(self):
        if self.month and self.month.day != 1:
            raise ValidationError({"month": _("Use the first day of the month.")})


# --- Fund supervision ----------------------------------------------------------------------------------------


class SupervisionFlag(models.Model):
    """A settlement pattern for a reviewer to look at; never blocks a settlement by itself."""

    kind = models.CharField(_("kind"), max_length=20, choices=FlagKind.choices, db_index=True)
    status = models.CharField(
        _("status"), max_length=10, choices=FlagStatus.choices, default=FlagStatus.OPEN, db_index=True
    )
    person = models.ForeignKey(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    institution = models.ForeignKey(
        "reference.Institution",
        verbose_name=_("institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    settlement = models.ForeignKey(
        Settlement,
        verbose_name=_("settlement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="flags",
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    # One flag per pattern occurrence (e.g. per person and day): re-checks do not pile up duplicates.
    dedupe_key = models.CharField(max_length=120, unique=True, editable=False)
    created_at = models.DateTimeField(_("raised"), default=timezone.now, db_index=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    review_note = models.CharField(_("review note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("supervision flag")
        verbose_name_plural = _("supervision flags")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
