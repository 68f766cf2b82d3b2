"""Referral filings made by the referring hospital (national interface 2501/2502): a designated hospital of
the person's insured area files the referral for them; the insured area's agency approves it as any filing.
The hospital's referral stands for the referral letter; the hospital may withdraw what it filed."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.choices import Role
from core.audit import audit_record
from core.errors import PermissionDenied
from core.masking import mask_id_number, mask_phone
from reference.models import Institution
from reference.selectors import region_covers

from .choices import Channel, FilingGroup
from .dates import today
from .models import Filing, Referral
from .selectors import region_get
from .services import filing_cancel, filing_submit
from .services.checks import _check
from .services.drafts import _new_serial, _set_picks
from .services.transitions import _lock_person


@transaction.atomic
def filing_refer(
    *,
    person,
    actor,
    destination: str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    diagnosis_code: str,
    diagnosis_name: str,
    condition: str = "",
    destination_institution: str = "",
    referral_type: str,
    referral_date: dt.date,
    reason: str,
    opinion: str,
) -> Filing:
    """A referral filing for `person` made by `actor`'s hospital, which must lie in the person's insured area;
    checked by every rule of a filing and submitted (approved at once only where the area's rules say so)."""
    institution = actor.institution if actor.role == Role.COUNTER else None
    if institution is None or not region_covers(person.insured_region_id, institution.region_id):
        raise PermissionDenied(_("Only a designated hospital of the person's insured area may refer them."))
    _lock_person(person.pk)
    destination = region_get(code=destination)
    picks = list(Institution.objects.filter(code=destination_institution)) if destination_institution else []
    day = today()
    checked = _check(
        person=person,
        group=FilingGroup.REFERRAL,
        destination=destination,
        start_date=start_date,
        end_date=end_date,
        institutions=picks,
        commitment=False,
        supersedes=None,
        exclude=(),
        day=day,
    )
    filing = Filing.objects.create(
        serial=_new_serial(person.insured_region_id, day),
        person=person,
        scheme=person.scheme,
        group=FilingGroup.REFERRAL,
        channel=Channel.INSTITUTION,
        insured_region_id=person.insured_region_id,
        destination=destination,
        start_date=start_date,
        end_date=checked.end_date,
        pick_required=checked.policy.pick_required,
        masked_id_number=mask_id_number(person.id_number),
        masked_phone=mask_phone(person.phone),
        created_by=actor,
    )
    _set_picks(filing, checked.institutions)
    Referral.objects.create(
        filing=filing,
        institution=institution,
        diagnosis_code=diagnosis_code,
        diagnosis_name=diagnosis_name,
        condition=condition,
        destination_institution=destination_institution,
        referral_type=referral_type,
        referral_date=referral_date,
        reason=reason,
        opinion=opinion,
    )
    audit_record(
        actor=actor,
        action="filing.create",
        target=filing,
        to_state=filing.status,
        data={
            "group": filing.group,
            "destination": destination.code,
            "channel": filing.channel,
            "institution": institution.code,
        },
    )
    return filing_submit(filing=filing, actor=actor)


def filing_refer_cancel(*, filing: Filing, actor, reason: str = "") -> Filing:
    """The referring hospital withdraws its referral (filing_cancel's rules; it may act only on its own)."""
    return filing_cancel(filing=filing, actor=actor, reason=reason)
