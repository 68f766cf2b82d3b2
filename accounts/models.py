import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.masking import mask_id_number, mask_name, mask_phone
from core.validators import id_birth_date
from reference.choices import Scheme

from .choices import AssistanceCategory, Gender, Language, PersonStatus, Role


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
