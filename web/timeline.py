"""The status timeline of a filing as the person sees it, built from its audit history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext_lazy as _

from filing.choices import FilingStatus

_LABELS = {
    FilingStatus.DRAFT: _("Draft saved"),
    FilingStatus.SUBMITTED: _("Submitted"),
    FilingStatus.APPROVED: _("Approved"),
    FilingStatus.REJECTED: _("Rejected"),
    FilingStatus.CANCELLED: _("Cancelled"),
    FilingStatus.REVOKED: _("Revoked"),
    FilingStatus.EXPIRED: _("Expired"),
    FilingStatus.SUPERSEDED: _("Replaced by a change"),
}
_TONES = {
    FilingStatus.APPROVED: "ok",
    FilingStatus.REJECTED: "bad",
    FilingStatus.REVOKED: "bad",
}
# Why the person should see the reason: it tells them what to do next.
_REASON_SHOWN = (FilingStatus.REJECTED, FilingStatus.REVOKED, FilingStatus.CANCELLED, FilingStatus.APPROVED)


@dataclass(frozen=True)
class Step:
    label: str
    when: datetime | None = None
    tone: str = "done"
    reason: str = ""
    hint: str = ""
    deadline: date | None = None


def filing_timeline(filing, history) -> list[Step]:
    """Submitted, under review with the deadline, decided with the reason, in order."""
    steps: list[Step] = []
    for event in history:
        state = event.to_state
        if not state or state == event.from_state or state not in _LABELS:
            continue
        steps.append(
            Step(
                label=str(_LABELS[state]),
                when=event.created_at,
                tone=_TONES.get(state, "done"),
                reason=event.reason if state in _REASON_SHOWN else "",
            )
        )
    if not steps:
        steps.append(Step(label=str(_LABELS[FilingStatus.DRAFT]), when=filing.created_at))
        if filing.submitted_at:
            steps.append(Step(label=str(_LABELS[FilingStatus.SUBMITTED]), when=filing.submitted_at))
        if filing.decided_at and filing.status in _LABELS:
            steps.append(
                Step(
                    label=str(_LABELS[filing.status]),
                    when=filing.decided_at,
                    tone=_TONES.get(filing.status, "done"),
                    reason=filing.reason,
                )
            )
    if filing.status == FilingStatus.SUBMITTED:
        steps.append(Step(label=str(_("Under review")), tone="wait", deadline=filing.review_deadline))
    elif filing.status in (FilingStatus.REJECTED, FilingStatus.REVOKED) and steps:
        last = steps[-1]
        steps[-1] = Step(
            label=last.label,
            when=last.when,
            tone=last.tone,
            reason=last.reason or filing.reason,
            hint=filing.fix_hint,
        )
    return steps
