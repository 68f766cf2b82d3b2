"""What a draft filing holds as the person or a reviewer writes it: its serial, picks, proxy and fields."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError
from core.masking import mask_id_number, mask_phone
from reference.models import Institution, Region

from ..choices import (
    Channel,
    FilingStatus,
)
from ..dates import today
from ..errors import FilingErrorCode
from ..models import Filing, FilingInstitution
from ..selectors import region_get
from .checks import ProxyApplicant, _check, _clean_channel, _clean_group, _clean_proxy, _resolve_institutions
from .transitions import AREA_REVIEWER, OWNER, _authorize, _locked


def _new_serial(insured_region_id: str, day: dt.date) -> str:
    while True:
        serial = f"BA{insured_region_id}{day:%Y%m%d}{secrets.randbelow(10**8):08d}"
        if not Filing.objects.filter(serial=serial).exists():
            return serial


def _set_picks(filing: Filing, institutions: list[Institution]) -> None:
    FilingInstitution.objects.filter(filing=filing).delete()
    FilingInstitution.objects.bulk_create(
        [
            FilingInstitution(filing=filing, institution=inst, position=i)
            for i, inst in enumerate(institutions)
        ]
    )


def _picked(filing: Filing) -> list[Institution]:
    return [
        p.institution for p in FilingInstitution.objects.filter(filing=filing).select_related("institution")
    ]


def _apply_proxy(filing: Filing, proxy: ProxyApplicant | None) -> None:
    filing.proxy_name = proxy.name if proxy else ""
    filing.proxy_id_number = proxy.id_number if proxy else ""
    filing.proxy_phone = proxy.phone if proxy else ""
    filing.proxy_relation = proxy.relation if proxy else ""


@transaction.atomic
def filing_create_draft(
    *,
    person,
    actor,
    group: str,
    destination: Region | str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    institutions: Iterable[Institution | str] = (),
    commitment: bool = False,
    channel: str = Channel.WEB,
    proxy: ProxyApplicant | Mapping | None = None,
    idempotency_key: str | None = None,
    supersedes: Filing | None = None,
    destination_address: str = "",
) -> Filing:
    """Create a draft filing for `person`, checked against their insured area's rules (materials and picks are
    checked on submission). The same `idempotency_key` returns the filing it first created. `supersedes` makes
    it a change of an approved filing, which that filing gives way to when this one is approved."""
    probe = Filing(person=person, insured_region_id=person.insured_region_id)
    roles = _authorize(probe, actor, {OWNER, AREA_REVIEWER})
    if idempotency_key:
        existing = Filing.objects.filter(person=person, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    group = _clean_group(group)
    channel = _clean_channel(channel, roles)
    destination = region_get(code=destination)
    proxy = _clean_proxy(proxy)
    day = today()
    checked = _check(
        person=person,
        group=group,
        destination=destination,
        start_date=start_date,
        end_date=end_date,
        institutions=_resolve_institutions(institutions),
        commitment=bool(commitment),
        supersedes=supersedes,
        exclude=(),
        day=day,
    )
    filing = Filing(
        serial=_new_serial(person.insured_region_id, day),
        person=person,
        scheme=person.scheme,
        group=group,
        channel=channel,
        insured_region_id=person.insured_region_id,
        destination=destination,
        destination_address=(destination_address or "").strip()[:200],
        start_date=start_date,
        end_date=checked.end_date,
        commitment=bool(commitment),
        pick_required=checked.policy.pick_required,
        masked_id_number=mask_id_number(person.id_number),
        masked_phone=mask_phone(person.phone),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        supersedes=supersedes,
        idempotency_key=idempotency_key or None,
    )
    _apply_proxy(filing, proxy)
    try:
        with transaction.atomic():
            filing.save()
    except IntegrityError:
        # Two requests with one key raced: the other one created it.
        existing = Filing.objects.filter(person=person, idempotency_key=idempotency_key).first()
        if idempotency_key and existing is not None:
            return existing
        raise
    _set_picks(filing, checked.institutions)
    audit_record(
        actor=actor,
        action="filing.create",
        target=filing,
        to_state=filing.status,
        data={
            "group": group,
            "destination": destination.code,
            "channel": channel,
            "supersedes": supersedes.pk if supersedes else None,
            "proxy": proxy is not None,
        },
    )
    return filing


DRAFT_FIELDS = (
    "group",
    "destination",
    "start_date",
    "end_date",
    "institutions",
    "commitment",
    "channel",
    "proxy",
    "destination_address",
)


@transaction.atomic
def filing_update_draft(*, filing: Filing, actor, **changes) -> Filing:
    """Change a draft (any of DRAFT_FIELDS; `proxy=None` removes the proxy); every rule is checked again."""
    unknown = set(changes) - set(DRAFT_FIELDS)
    if unknown:
        raise TypeError(f"filing_update_draft() got unexpected fields: {', '.join(sorted(unknown))}")
    filing = _locked(filing)
    roles = _authorize(filing, actor, {OWNER, AREA_REVIEWER})
    if filing.status != FilingStatus.DRAFT:
        raise ServiceError(FilingErrorCode.NOT_EDITABLE, _("Only a draft can be changed."), status=409)
    person = filing.person
    group = _clean_group(changes.get("group", filing.group))
    if "channel" in changes:
        filing.channel = _clean_channel(changes["channel"], roles)
    destination = region_get(code=changes["destination"]) if "destination" in changes else filing.destination
    institutions = (
        _resolve_institutions(changes["institutions"]) if "institutions" in changes else _picked(filing)
    )
    commitment = bool(changes.get("commitment", filing.commitment))
    start_date = changes.get("start_date", filing.start_date)
    # A temporary filing's computed end date moves with its start unless a new one is given.
    recompute_end = "start_date" in changes or "group" in changes
    end_date = changes.get("end_date", None if recompute_end else filing.end_date)
    if "proxy" in changes:
        _apply_proxy(filing, _clean_proxy(changes["proxy"]))
    checked = _check(
        person=person,
        group=group,
        destination=destination,
        start_date=start_date,
        end_date=end_date,
        institutions=institutions,
        commitment=commitment,
        supersedes=filing.supersedes,
        exclude=[filing.pk],
        day=today(),
    )
    filing.group, filing.destination, filing.start_date = group, destination, start_date
    filing.end_date, filing.commitment = checked.end_date, commitment
    filing.pick_required = checked.policy.pick_required
    if "destination_address" in changes:
        filing.destination_address = (changes["destination_address"] or "").strip()[:200]
    filing.save()
    if "institutions" in changes:
        _set_picks(filing, checked.institutions)
    audit_record(
        actor=actor,
        action="filing.update",
        target=filing,
        from_state=filing.status,
        to_state=filing.status,
        data={"fields": sorted(changes)},
    )
    return filing
