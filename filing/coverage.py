"""Which filing is in force for a person, and whether it lets them settle directly at an institution.

The one home of the rule: filing's own reads, the counter's check (ecode) and settlement call it; the counter's
one-statement check takes its SQL condition from ``in_force_sql``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db import connection
from django.db.models import Field, Q, QuerySet
from django.utils.translation import gettext as _

from reference.models import Institution
from reference.selectors import region_covers, same_province

from .choices import EMERGENCY_OVERRIDES, IN_FORCE_STATUSES, CoverageReason, FilingGroup
from .dates import today
from .errors import FilingErrorCode
from .models import Filing, FilingInstitution

if TYPE_CHECKING:
    from accounts.models import InsuredPerson


@dataclass(frozen=True)
class Coverage:
    """Whether direct settlement applies at one institution, and why (for the counter)."""

    filing: Filing | None
    applies: bool
    reason: str

    @property
    def message(self) -> str:
        return str(CoverageReason(self.reason).label)


def in_force_order(filings: Iterable[Filing]) -> list[Filing]:
    """Filings in force, in the order they speak for the person: a regular filing before an emergency
    episode, then the most recent first."""
    return sorted(filings, key=lambda f: (f.group == FilingGroup.EMERGENCY, -f.start_date.toordinal(), -f.pk))


def in_force_q(on_date: dt.date) -> Q:
    """The condition of a filing in force on `on_date`: approved (or superseded by a change not yet started),
    started, and not ended. ``in_force_sql`` is the same condition for raw SQL."""
    return Q(status__in=IN_FORCE_STATUSES, start_date__lte=on_date) & (
        Q(end_date__isnull=True) | Q(end_date__gte=on_date)
    )


def filings_in_force(*, person: InsuredPerson, on_date: dt.date) -> QuerySet[Filing]:
    """The person's filings in force on `on_date`, in any scheme and destination (unordered)."""
    return Filing.objects.filter(in_force_q(on_date), person=person)


def in_force_sql(alias: str) -> str:
    """``in_force_q`` as an SQL condition on the filing table aliased `alias`, for a statement that cannot use
    the ORM (the counter's one-statement check); its parameters are ``in_force_params``."""
    column = {
        name: f'{alias}."{cast("Field[Any, Any]", Filing._meta.get_field(name)).column}"'
        for name in ("status", "start_date", "end_date")
    }
    statuses = ", ".join(["%s"] * len(IN_FORCE_STATUSES))
    return (
        f"{column['status']} IN ({statuses}) AND {column['start_date']} <= %s"
        f" AND ({column['end_date']} IS NULL OR {column['end_date']} >= %s)"
    )


def in_force_params(on_date: dt.date) -> tuple[Any, ...]:
    """The parameters of ``in_force_sql`` for `on_date`, in order."""
    day = connection.ops.adapt_datefield_value(on_date)
    return (*(str(status) for status in IN_FORCE_STATUSES), day, day)


def _in_force(*, person: InsuredPerson, on_date: dt.date) -> list[Filing]:
    return in_force_order(filings_in_force(person=person, on_date=on_date).select_related("destination"))


def filings_in_force_here(*, person: InsuredPerson, institution: Institution, on_date: dt.date) -> set[int]:
    """The ids of the person's filings in force on `on_date` whose destination covers `institution` (picked
    there or not)."""
    filings = filings_in_force(person=person, on_date=on_date).only("destination")
    return {f.pk for f in filings if region_covers(f.destination_id, institution.region_id)}


def _picked_here(filings: list[Filing], institution: Institution) -> set[int]:
    ids = [f.pk for f in filings if f.pick_required]
    if not ids:
        return set()
    return set(
        FilingInstitution.objects.filter(filing_id__in=ids, institution_id=institution.pk).values_list(
            "filing_id", flat=True
        )
    )


def filing_coverage(
    *,
    person: InsuredPerson,
    institution: Institution,
    on_date: dt.date | None = None,
    service: str | None = None,
) -> Coverage:
    """Whether a filing in force on `on_date` (default today) lets the person settle directly at `institution`,
    and for `service` when given. At most two queries."""
    filings = _in_force(person=person, on_date=on_date or today())
    return coverage_among(
        filings, institution, picked_here=lambda here: _picked_here(here, institution), service=service
    )


def coverage_among(
    filings: list[Filing],
    institution: Institution,
    *,
    picked_here: Callable[[list[Filing]], set[int]],
    service: str | None = None,
) -> Coverage:
    """The rule of ``filing_coverage`` over filings already known to be in force (in ``in_force_order``).

    ``picked_here(filings)`` gives the ids of those of ``filings`` on which the person picked ``institution``
    (asked only when it matters); the counter's check passes what its own query found."""
    if not filings:
        return Coverage(None, False, CoverageReason.NO_FILING.value)
    here = [f for f in filings if region_covers(f.destination_id, institution.region_id)]
    if not here:
        return Coverage(filings[0], False, CoverageReason.OTHER_DESTINATION.value)
    if not (institution.active and institution.networked):
        return Coverage(here[0], False, CoverageReason.INSTITUTION_NOT_NETWORKED.value)
    picked = picked_here(here) if any(f.pick_required for f in here) else set()
    usable = [f for f in here if not f.pick_required or f.pk in picked]
    if not usable:
        return Coverage(here[0], False, CoverageReason.INSTITUTION_NOT_PICKED.value)
    if service and not institution.offers(service):
        return Coverage(usable[0], False, CoverageReason.SERVICE_NOT_OFFERED.value)
    return Coverage(usable[0], True, CoverageReason.OK.value)


def filing_in_force(
    *, person: InsuredPerson, institution: Institution | None = None, on_date: dt.date | None = None
) -> Filing | None:
    """The approved filing in force on `on_date` (default today) for the person, in any scheme; with
    `institution`, only one under which that institution settles directly."""
    if institution is None:
        filings = _in_force(person=person, on_date=on_date or today())
        return filings[0] if filings else None
    coverage = filing_coverage(person=person, institution=institution, on_date=on_date)
    return coverage.filing if coverage.applies else None


def emergency_problem(
    *, person: InsuredPerson, institution: Institution
) -> tuple[FilingErrorCode, str] | None:
    """Why an emergency treated at `institution` cannot be recorded as filed there (the checks of
    `filing.services.filing_record_emergency`), or None."""
    if not (institution.active and institution.networked):
        return FilingErrorCode.INSTITUTION_NOT_NETWORKED, _(
            "%(name)s cannot settle cross-provincial bills."
        ) % {"name": institution.name}
    if same_province(institution.region_id, person.insured_region_id):
        return FilingErrorCode.DESTINATION_IN_INSURED_PROVINCE, _(
            "Cross-provincial filing is for destinations outside your insured province."
        )
    return None


def emergency_settles(coverage: Coverage, *, person: InsuredPerson, institution: Institution) -> bool:
    """Whether an emergency at `institution` is settled directly all the same: under the filing in force
    there, or as filed (the reason there is none is one an emergency overrides, and one can be recorded)."""
    if coverage.applies:
        return True
    return emergency_overrides(coverage) and emergency_problem(person=person, institution=institution) is None


def emergency_overrides(coverage: Coverage) -> bool:
    """Whether an emergency is treated as filed despite why this coverage does not apply."""
    return coverage.reason in EMERGENCY_OVERRIDES
