"""The e-code credential of an insured person, the keys that sign its codes, and every scan of a code."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")


class Credential(models.Model):
    """A person's activated e-code; tokens name it by a random ``member_id``, never by the ID number."""

    person = models.OneToOneField(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        on_delete=models.PROTECT,
        related_name="ecode_credential",
    )
    # Random 63 bits: unguessable, unrelated to the person, and fits a signed bigint.
    member_id = models.PositiveBigIntegerField(_("member id"), unique=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=CredentialStatus.choices, default=CredentialStatus.ACTIVE
    )
    activated_at = models.DateTimeField(_("activated"), default=timezone.now)
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    suspended_reason = models.TextField(_("suspension reason"), blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.TextField(_("revocation reason"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("e-code credential")
        verbose_name_plural = _("e-code credentials")

    def __str__(self) -> str:
        return f"{self.person} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == CredentialStatus.ACTIVE


class SigningKeyStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    VERIFY_ONLY = "verify-only", _("Verify only")
    REVOKED = "revoked", _("Revoked")


class SigningKey(models.Model):
    """An Ed25519 key that signs e-codes; the private half is stored only encrypted under ECODE_KEK."""

    kid = models.PositiveBigIntegerField(_("key id"), unique=True, editable=False)  # uint32
    public_key = models.BinaryField(_("public key"), max_length=32, editable=False)
    # AES-256-GCM under settings.ECODE_KEK, the kid bound as associated data (see ecode.keys).
    private_key_sealed = models.TextField(editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=SigningKeyStatus.choices, default=SigningKeyStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)
    # A verify-only key verifies until then (one token lifetime plus skew after it stopped signing).
    verify_until = models.DateTimeField(_("verifies until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-code signing key")
        verbose_name_plural = _("e-code signing keys")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="ecode_one_active_key"
            ),
            models.CheckConstraint(condition=Q(kid__lt=1 << 32), name="ecode_kid_uint32"),
        ]

    def __str__(self) -> str:
        return f"{self.kid_hex} ({self.status})"

    @property
    def kid_hex(self) -> str:
        return f"{self.kid:08x}"

    def verifies_at(self, when) -> bool:
        """Whether tokens signed under this key may still verify at ``when``."""
        if self.status == SigningKeyStatus.ACTIVE:
            return True
        return self.status == SigningKeyStatus.VERIFY_ONLY and (
            self.verify_until is None or when <= self.verify_until
        )


class CodeEventKind(models.TextChoices):
    VERIFY = "verify", _("Verified")
    CONSUME = "consume", _("Used for settlement")


class CodeEvent(models.Model):
    """One scan of an e-code at a counter: who checked it, what came out; a successful consume is a use."""

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=8, choices=CodeEventKind.choices)
    # "ok" or an e-code error code (ecode.verifier.EcodeErrorCode).
    result = models.CharField(_("result"), max_length=32)
    # Every counter check inserts a row, so the table pays for nothing a check does not need:
    # - no index that another one covers: the person's and the institution's lookups use the (person, time) and
    #   (institution, time) indexes below;
    # - no foreign-key constraints in the database (``db_constraint=False``). Each constraint cost every insert a
    #   lookup and a KEY SHARE lock of the referenced row (so concurrent checks at one counter shared the
    #   institution's and operator's rows through multixacts), and a bulk load a check per row. The references
    #   hold without them: the only writers are the check and use statements, which read the credential, the
    #   person, the institution and the operator in the same statement that inserts the row, and none of those
    #   rows is ever deleted (``PROTECT`` still refuses it in the ORM, through the indexes below; people,
    #   credentials, terminals and institutions are deactivated, not deleted). tests/ecode/test_event_refs.py.
    credential = models.ForeignKey(
        Credential,
        verbose_name=_("credential"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_constraint=False,
    )
    person = models.ForeignKey(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ecode_events",
        db_index=False,
        db_constraint=False,
    )
    institution = models.ForeignKey(
        "reference.Institution",
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="ecode_events",
        db_index=False,
        db_constraint=False,
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    api_key_prefix = models.CharField(_("terminal key"), max_length=12, blank=True)
    request_no = models.CharField(_("request number"), max_length=64, blank=True)
    # A keyed hash of the token's subject block (never the token): one use per code, linkable only by us. Only
    # successful uses are looked up by it, through the partial unique index below.
    subject = models.CharField(max_length=32, blank=True)
    kid = models.PositiveBigIntegerField(null=True, blank=True)
    token_iat = models.DateTimeField(_("code issued"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-code event")
        verbose_name_plural = _("e-code events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["person", "-created_at"]),
            models.Index(fields=["institution", "-created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "request_no"],
                condition=~Q(request_no=""),
                name="ecode_request_no_unique",
            ),
            # The database backs up the Redis marker: one successful use per code, whatever happens to Redis.
            models.UniqueConstraint(
                fields=["subject"], condition=Q(kind="consume", result="ok"), name="ecode_one_use_per_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.result} @ {self.institution_id}"

    @property
    def ok(self) -> bool:
        return self.result == "ok"
