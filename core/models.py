from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One decision or state change: who did what to which object, from which state to which, and why."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # "system" for scheduled jobs, "api-key:<prefix>" for terminals; kept even if the user is removed.
    actor_label = models.CharField(_("actor label"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=60)
    # Indexed by the (target_type, target_id, created_at) index, which starts with it.
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+", db_index=False)
    target_id = models.CharField(max_length=64)
    target = GenericForeignKey("target_type", "target_id")
    from_state = models.CharField(_("from"), max_length=30, blank=True)
    to_state = models.CharField(_("to"), max_length=30, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "created_at"]),
            # The admin's filter by action; a plain index (db_index would add a LIKE twin nothing uses).
            models.Index(fields=["action"], name="audit_action_idx"),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"


class DeferredTask(models.Model):
    """Work to run once after a commit, written in the same transaction as the change that needs it (an
    outbox row): an outage of the broker or of the workers delays it, never loses it (`core.deferred`)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    # Dotted path of a function marked @deferrable, called with `kwargs`.
    handler = models.CharField(_("handler"), max_length=200)
    kwargs = models.JSONField(_("arguments"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=200, blank=True, default="")
    # When the next run is due; the sweep queues pending rows left well past it.
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("running since"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("deferred task")
        verbose_name_plural = _("deferred tasks")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="deferred_due_idx"),
            # The outbox list's order (newest first), read backwards.
            models.Index(fields=["created_at", "id"], name="deferred_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} #{self.pk} ({self.status})"


class PartitionArchive(models.Model):
    """One month of a partitioned table retired from the database (`core.partitions.partitions_retire`): where its
    rows went, how many, and the file's size and SHA-256, so that an operator finds the month and can tell
    that the file is whole."""

    table = models.CharField(_("table"), max_length=63)
    month = models.DateField(_("month"))
    # Not unique: old rows loaded again later make the month anew, and it is retired again to another file.
    partition = models.CharField(_("partition"), max_length=63)
    path = models.CharField(_("file"), max_length=500)
    rows = models.BigIntegerField(_("rows"))
    size = models.BigIntegerField(_("bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    retired_at = models.DateTimeField(_("retired"), default=timezone.now)

    class Meta:
        verbose_name = _("partition archive")
        verbose_name_plural = _("partition archives")
        ordering = ["table", "-month"]

    def __str__(self) -> str:
        return self.partition
