"""The codes of the filing app: groups, states, channels, document kinds and coverage answers."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class FilingGroup(models.TextChoices):
    """Who files, as the national filing table names the reason (备案类型)."""

    RETIREE = "retiree", _("Relocated retiree")
    RESIDENT = "resident", _("Long-term resident elsewhere")
    WORKER = "worker", _("Long-term worker elsewhere")
    REFERRAL = "referral", _("Referral")
    EMERGENCY = "emergency", _("Emergency treatment")
    TEMPORARY = "temporary", _("Other temporary treatment")

    @property
    def long_term(self) -> bool:
        return self in LONG_TERM_GROUPS


LONG_TERM_GROUPS = frozenset({FilingGroup.RETIREE, FilingGroup.RESIDENT, FilingGroup.WORKER})
TEMPORARY_GROUPS = frozenset(set(FilingGroup) - LONG_TERM_GROUPS)


class FilingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")
    # An approved filing replaced by an approved change; it stays in force until the day before the change starts.
    SUPERSEDED = "superseded", _("Superseded by a change")


# States whose date range may cover a treatment day (a superseded filing ends the day before its change starts).
IN_FORCE_STATUSES = (FilingStatus.APPROVED, FilingStatus.SUPERSEDED)


class Channel(models.TextChoices):
    APP = "app", _("National medical insurance app")
    MINI_PROGRAM = "mini_program", _("Filing mini-program")
    WEB = "web", _("Website")
    WINDOW = "window", _("Service window")
    # Recorded by the treating institution when an emergency was treated without a filing.
    INSTITUTION = "institution", _("Treating institution")


# What an insured person may choose themselves; the others are recorded by staff.
PERSON_CHANNELS = (Channel.APP, Channel.MINI_PROGRAM, Channel.WEB)


class DocumentKind(models.TextChoices):
    """Supporting materials (证明材料) a group may need besides the ID and the filing form."""

    HOUSEHOLD_REGISTER = "household_register", _("Household register in the destination")
    RESIDENCE_PROOF = "residence_proof", _("Residence permit or other long-term residence proof")
    WORK_PROOF = "work_proof", _("Employer dispatch letter, work proof or labour contract")
    REFERRAL_LETTER = "referral_letter", _("Referral document from a designated hospital of the insured area")
    COMMITMENT_LETTER = "commitment_letter", _("Signed personal commitment")
    ID_DOCUMENT = "id_document", _("Identity document")
    OTHER = "other", _("Other")


class ProxyRelation(models.TextChoices):
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    SIBLING = "sibling", _("Sibling")
    OTHER_RELATIVE = "relative", _("Other relative")
    OTHER = "other", _("Other")


class CoverageReason(models.TextChoices):
    """Why direct settlement applies, or not, at one institution (what the counter shows)."""

    OK = "ok", _("A filing is in force here")
    NO_FILING = "no_filing", _("No filing in force")
    OTHER_DESTINATION = "other_destination", _("The filing in force is for another destination")
    INSTITUTION_NOT_PICKED = "institution_not_picked", _("This institution is not among the picked ones")
    INSTITUTION_NOT_NETWORKED = (
        "institution_not_networked",
        _("This institution cannot settle cross-provincial bills"),
    )
    SERVICE_NOT_OFFERED = (
        "service_not_offered",
        _("This institution does not offer this service for direct settlement"),
    )


# Why direct settlement does not apply that an emergency overrides: an emergency is treated as filed (the
# settlement records an emergency filing); the other reasons concern the institution, which it does not change.
EMERGENCY_OVERRIDES = frozenset(
    reason.value
    for reason in (
        CoverageReason.NO_FILING,
        CoverageReason.OTHER_DESTINATION,
        CoverageReason.INSTITUTION_NOT_PICKED,
    )
)
