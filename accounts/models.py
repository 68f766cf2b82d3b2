import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.masking import mask_id_number, mask_name, mask_phone
from core.validators import id_birth_date
from reference.choices import Scheme

from .choices import AssistanceCategory, ChronicDisease, Gender, IdentityKind, Language, PersonStatus, Role


class User(AbstractUser):
    """A sign-in identity. Insured people sign in by phone (see InsuredPerson); staff by username."""

    role = models.CharField(
        _("role"), max_length=10, choices=Role.choices, default=Role.PERSON, db_index=True
    )
    region = models.ForeignKey(
        "reference.Region",
        verbose_name=_("agency pooling area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewers",
        limit_choices_to={"is_pooling_area": True},
        help_text=_("Reviewers see and decide only this pooling area's filings."),
    )
    institution = models.ForeignKey(
        "reference.Institution",
        verbose_name=_("institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="operators",
        help_text=_("Counter operators act only for this institution."),
    )
    language = models.CharField(
        _("language"), max_length=7, choices=Language.choices, default=Language.ZH_HANS
    )
    sign_in_generation = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Raised by signing out everywhere: ends every session and bearer token issued before.",
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="reviewer") | Q(region__isnull=False), name="reviewer_has_region"
            ),
            models.CheckConstraint(
                condition=~Q(role="counter") | Q(institution__isnull=False), name="counter_has_institution"
            ),
        ]

    # A web session stays valid while this hash does (django.contrib.auth.get_user): a new password or
    # signing out everywhere changes it. Django's own hash covers the password only.
    def get_session_auth_hash(self) -> str:
        return self._sign_in_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._sign_in_hash(secret=secret)

    def _sign_in_hash(self, *, secret) -> str:
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}:{self.sign_in_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def sign_in_stamp(self) -> str:
        """Kept on each bearer token at issue; a token whose stamp no longer matches is refused."""
        return hashlib.sha256(f"{self.password}:{self.sign_in_generation}".encode()).hexdigest()

    @property
    def is_reviewer(self) -> bool:
        return self.role == Role.REVIEWER

    @property
    def is_counter(self) -> bool:
        return self.role == Role.COUNTER

    @property
    def is_person(self) -> bool:
        return self.role == Role.PERSON


class InsuredPerson(models.Model):
    """An insured person of a pooling area. Name, ID number, phone and email are encrypted at rest."""

    user = models.OneToOneField(
        User,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="person",
    )
    name = EncryptedTextField(_("name"))
    id_number = EncryptedTextField(_("ID number"))
    id_number_hash = models.CharField(max_length=64, unique=True, editable=False)
    phone = EncryptedTextField(_("mobile phone"))
    phone_hash = models.CharField(max_length=64, unique=True, editable=False)
    email = EncryptedTextField(_("email"), blank=True, default="")
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    insured_region = models.ForeignKey(
        "reference.Region",
        verbose_name=_("insured pooling area"),
        on_delete=models.PROTECT,
        related_name="insured_people",
        limit_choices_to={"is_pooling_area": True},
    )
    scheme = models.CharField(_("scheme"), max_length=10, choices=Scheme.choices)
    retired = models.BooleanField(_("retired"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=PersonStatus.choices, default=PersonStatus.ACTIVE
    )
    employer = models.CharField(_("employer"), max_length=120, blank=True)
    assistance_category = models.CharField(
        _("medical assistance category"),
        max_length=16,
        choices=AssistanceCategory.choices,
        blank=True,
        default="",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("insured person")
        verbose_name_plural = _("insured people")
        indexes = [models.Index(fields=["insured_region", "scheme"])]

    def __str__(self) -> str:
        return f"{self.masked_name} {self.masked_id_number}"

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def birth_date(self):
        return id_birth_date(self.id_number)

    @property
    def is_active(self) -> bool:
        return self.status == PersonStatus.ACTIVE

    @property
    def language(self) -> str:
        return self.user.language if self.user is not None else Language.ZH_HANS


class PersonIdentity(models.Model):
    """An identity of a person in need (特困, 低保, 返贫致贫风险, 低保边缘) as the insured area confirmed it, valid
    from a date and until a date (open when empty). It carries no personal data beyond the link to the person;
    the benefit rules (settlement.calculator) read the identities in force on the visit date."""

    person = models.ForeignKey(
        InsuredPerson, verbose_name=_("insured person"), on_delete=models.CASCADE, related_name="identities"
    )
    kind = models.CharField(_("identity"), max_length=16, choices=IdentityKind.choices)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Empty: until revoked."))
    source = models.CharField(
        _("confirmed by"),
        max_length=120,
        blank=True,
        help_text=_("The department or document of the insured area that confirmed the identity."),
    )
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("identity of a person in need")
        verbose_name_plural = _("identities of people in need")
        ordering = ["person_id", "kind", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="person_identity_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        end = f"{self.valid_to:%Y-%m-%d}" if self.valid_to else "…"
        return f"{self.get_kind_display()} {self.valid_from:%Y-%m-%d} – {end}"

    def clean(self):
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": _("The end date must not be before the start date.")})

    def in_force_on(self, day) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def identity_rows_on(person, day):
    """The identity rows (kind and dates) of `person` in force on `day`."""
    return PersonIdentity.objects.filter(person=person, valid_from__lte=day).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day)
    )


def identities_on(person, day) -> frozenset[str]:
    """The identity kinds of `person` in force on `day` (the one door for every rule that depends on them)."""
    return frozenset(identity_rows_on(person, day).values_list("kind", flat=True))


class DiseaseCertification(models.Model):
    """The insured area's certification (认定) of a person for an outpatient chronic or special disease: which
    disease, from when (until when), by which institution. Health data: shown only to staff of the insured
    area and the person; the benefit rules read the certifications in force on the visit date."""

    person = models.ForeignKey(
        InsuredPerson,
        verbose_name=_("insured person"),
        on_delete=models.CASCADE,
        related_name="disease_certifications",
    )
    disease = models.CharField(_("disease"), max_length=20, choices=ChronicDisease.choices)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Empty: until revoked."))
    institution = models.ForeignKey(
        "reference.Institution",
        verbose_name=_("certifying institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("chronic disease certification")
        verbose_name_plural = _("chronic disease certifications")
        ordering = ["person_id", "disease", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="disease_certification_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        end = f"{self.valid_to:%Y-%m-%d}" if self.valid_to else "…"
        return f"{self.get_disease_display()} {self.valid_from:%Y-%m-%d} – {end}"

    def clean(self):
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": _("The end date must not be before the start date.")})


def certified_diseases_on(person, day) -> frozenset[str]:
    """The chronic diseases `person` is certified for on `day` (the one door for that fact)."""
    rows = DiseaseCertification.objects.filter(person=person, valid_from__lte=day).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day)
    )
    return frozenset(rows.values_list("disease", flat=True))


class AuthToken(models.Model):
    """An insured person's bearer token for the API; only its SHA-256 is stored (accounts.tokens)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="The absolute end, whatever the use.")
    last_used_at = models.DateTimeField(null=True, blank=True)
    stamp = models.CharField(
        max_length=64, default="", help_text="The user's sign-in stamp at issue (a password change ends it)."
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"token of {self.user} until {self.expires_at:%Y-%m-%d}"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    """A counter terminal's key, acting as one operator of one institution. Stored hashed; shown once."""

    operator = models.ForeignKey(
        User,
        verbose_name=_("operator"),
        on_delete=models.PROTECT,
        related_name="api_keys",
        limit_choices_to={"role": Role.COUNTER},
    )
    name = models.CharField(_("terminal name"), max_length=80)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("counter API key")
        verbose_name_plural = _("counter API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def institution(self):
        return self.operator.institution

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SignInThrottle(models.Model):
    """Failed sign-ins of one identity or address, counted here while the cache does not answer."""

    key = models.CharField(max_length=64, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in throttle")
        verbose_name_plural = _("sign-in throttles")

    def __str__(self) -> str:
        return f"{self.key[:8]}… {self.failures}"
