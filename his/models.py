"""The national interface's own records: terminals' gateway credentials, answered messages (idempotency),
sign-ins, and the visits and fee details a HIS builds before it settles. Money and rules stay in settlement."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.money import MoneyField


class HisTerminal(models.Model):
    """A counter terminal's gateway credential (x-tif-paasid and its secret). The secret is kept encrypted, not
    hashed: the gateway signature is a hash of it that we must compute too. Shown once, revocable."""

    operator = models.ForeignKey(
        "accounts.User",
        verbose_name=_("operator"),
        on_delete=models.PROTECT,
        related_name="his_terminals",
        limit_choices_to={"role": "counter"},
    )
    name = models.CharField(_("terminal name"), max_length=80)
    paasid = models.CharField(_("paasid"), max_length=40, unique=True, editable=False)
    secret = EncryptedTextField(_("secret"), editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("HIS gateway credential")
        verbose_name_plural = _("HIS gateway credentials")

    def __str__(self) -> str:
        return f"{self.name} ({self.paasid})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class HisNonce(models.Model):
    """A gateway nonce seen while the cache was away (the cache remembers them otherwise)."""

    paasid = models.CharField(max_length=40)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["paasid", "nonce"], name="his_nonce_unique")]

    def __str__(self) -> str:
        return f"{self.paasid} {self.seen_at:%Y-%m-%d %H:%M:%S}"


class MessageState(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Answered")


class HisMessage(models.Model):
    """One request of an institution by its msgid, and the answer it got: a retry gets that answer again."""

    institution = models.ForeignKey("reference.Institution", on_delete=models.PROTECT, related_name="+")
    msgid = models.CharField(max_length=30)
    infno = models.CharField(max_length=6)
    state = models.CharField(max_length=12, choices=MessageState.choices, default=MessageState.IN_PROGRESS)
    # Answers hold personal data (1101's identity, setlinfo's): encrypted at rest like every such column.
    answer = EncryptedTextField(blank=True, default="", help_text="The JSON answered, byte for byte.")
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("HIS message")
        verbose_name_plural = _("HIS messages")
        constraints = [
            models.UniqueConstraint(fields=["institution", "msgid"], name="his_message_msgid_unique")
        ]

    def __str__(self) -> str:
        return f"{self.infno} {self.msgid}"


class HisSignIn(models.Model):
    """A 9001 sign-in of an operator at a terminal."""

    sign_no = models.CharField(max_length=30, unique=True)
    operator = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    opter_no = models.CharField(max_length=30)
    ip = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=64, blank=True)
    signed_in_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.sign_no


class VisitState(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    CANCELLED = "cancelled", _("Registration cancelled")


class HisVisit(models.Model):
    """A visit registered by a HIS (2201/2401): the e-code's use, the visit type and the diagnoses. Its bill is
    settled by settlement.services; the settlement is linked here."""

    mdtrt_id = models.CharField(_("visit id"), max_length=30, unique=True)
    institution = models.ForeignKey("reference.Institution", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("accounts.InsuredPerson", on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    code_event = models.ForeignKey(
        "ecode.CodeEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    med_type = models.CharField(max_length=6)
    insutype = models.CharField(max_length=6)
    ipt_otp_no = models.CharField(max_length=30, blank=True)
    begntime = models.DateTimeField()
    endtime = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=VisitState.choices, default=VisitState.REGISTERED)
    diagnoses = models.JSONField(default=list, blank=True)
    # The certified chronic/special disease treated (med_type 14), given with 2203; settled with the visit.
    disease = models.CharField(max_length=20, blank=True)
    settlement = models.ForeignKey(
        "settlement.Settlement", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("HIS visit")
        verbose_name_plural = _("HIS visits")

    def __str__(self) -> str:
        return self.mdtrt_id


class HisFee(models.Model):
    """One fee detail line uploaded by 2204/2301; cancelled lines stay, marked."""

    visit = models.ForeignKey(HisVisit, on_delete=models.CASCADE, related_name="fees")
    feedetl_sn = models.CharField(max_length=30)
    chrg_bchno = models.CharField(max_length=30, blank=True)
    code = models.CharField(max_length=50)
    name = models.CharField(max_length=200, blank=True)
    quantity = models.DecimalField(max_digits=16, decimal_places=4)
    unit_price = models.DecimalField(max_digits=16, decimal_places=6)
    amount = MoneyField(_("amount"))
    occurred_at = models.DateTimeField(null=True, blank=True)
    # lmt_used_flag: the counter confirms the item's restricted-use condition is met.
    lmt_used_flag = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "feedetl_sn"], condition=Q(cancelled=False), name="his_fee_sn_unique"
            )
        ]

    def __str__(self) -> str:
        return self.feedetl_sn
