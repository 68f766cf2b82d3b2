"""The filing wizard: group → destination → institutions → dates → materials → review.

State lives in the session after every step, so a reload (or coming back later in the same session) resumes
where the person stopped. Once the dates are known a draft filing is created through `filing_create_draft`
(documents need it) and every later change goes through `filing_update_draft`; `?draft=<id>` loads a saved
draft into the wizard again. The services take every decision: an error they raise is shown on the step that
owns the field it concerns.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import NotFound, ServiceError
from filing import selectors as filing_selectors
from filing import services as filing_services
from filing.choices import DocumentKind, FilingGroup, FilingStatus, ProxyRelation
from filing.errors import FilingErrorCode as E
from reference.choices import InstitutionLevel, RegionLevel, Scheme, Service
from reference.models import Institution, Region

from .access import person_required
from .forms import (
    DatesStepForm,
    DestinationStepForm,
    DocumentForm,
    GroupStepForm,
    InstitutionSearchForm,
    MaterialsStepForm,
    ProxyForm,
)

SESSION_KEY = "web_filing_wizard"


@dataclass(frozen=True)
class StepInfo:
    name: str
    label: object


STEPS = (
    StepInfo("group", gettext_lazy("Group")),
    StepInfo("destination", gettext_lazy("Destination")),
    StepInfo("institutions", gettext_lazy("Institutions")),
    StepInfo("dates", gettext_lazy("Dates")),
    StepInfo("materials", gettext_lazy("Materials")),
    StepInfo("review", pgettext_lazy("filing wizard step", "Review")),
)
STEP_NAMES = [s.name for s in STEPS]

# Plain words on who qualifies, next to each group's official name.
GROUP_HELP = {
    FilingGroup.RETIREE: gettext_lazy(
        "You have retired and moved to live in another province, for example with your children."
    ),
    FilingGroup.RESIDENT: gettext_lazy(
        "You live in another province for a long time, usually with a residence permit there."
    ),
    FilingGroup.WORKER: gettext_lazy(
        "Your employer posted you to another province, or you work there for a long time."
    ),
    FilingGroup.REFERRAL: gettext_lazy(
        "A designated hospital of your insured area refers you to a hospital in another province."
    ),
    FilingGroup.EMERGENCY: gettext_lazy(
        "You needed emergency treatment while away. This counts as filed; you may record it afterwards."
    ),
    FilingGroup.TEMPORARY: gettext_lazy(
        "Any other treatment away from home. Only your ID is needed, but the reimbursement ratio is usually "
        "lower."
    ),
}

# Which step owns each error, so it is explained where the choice was made.
_STEP_OF_CODE = {
    E.PERSON_NOT_ACTIVE: "group",
    E.INVALID_GROUP: "group",
    E.GROUP_NOT_ACCEPTED: "group",
    E.NOT_RETIRED: "group",
    E.INVALID_CHANNEL: "review",
    E.INVALID_PROXY: "materials",
    E.UNKNOWN_REGION: "destination",
    E.DESTINATION_IN_INSURED_PROVINCE: "destination",
    E.DESTINATION_NOT_ALLOWED: "destination",
    E.UNKNOWN_INSTITUTION: "institutions",
    E.INSTITUTION_NOT_IN_DESTINATION: "institutions",
    E.INSTITUTION_NOT_NETWORKED: "institutions",
    E.INSTITUTION_SERVICE_MISSING: "institutions",
    E.TOO_MANY_INSTITUTIONS: "institutions",
    E.INSTITUTIONS_REQUIRED: "institutions",
    E.RETROACTIVE_NOT_ALLOWED: "dates",
    E.START_DATE_TOO_LATE: "dates",
    E.INVALID_START_DATE: "dates",
    E.END_DATE_NOT_ALLOWED: "dates",
    E.VALIDITY_TOO_SHORT: "dates",
    E.VALIDITY_TOO_LONG: "dates",
    E.OVERLAPPING_FILING: "dates",
    E.MATERIALS_MISSING: "materials",
    E.COMMITMENT_NOT_ALLOWED: "materials",
    E.DOCUMENT_TYPE_NOT_ALLOWED: "materials",
    E.DOCUMENT_TOO_LARGE: "materials",
    E.DOCUMENT_EMPTY: "materials",
    E.TOO_MANY_DOCUMENTS: "materials",
}
_STEP_OF_FIELD = {
    "group": "group",
    "destination": "destination",
    "destination_address": "destination",
    "institutions": "institutions",
    "start_date": "dates",
    "end_date": "dates",
    "commitment": "materials",
    "documents": "materials",
    "file": "materials",
    "kind": "materials",
}


def step_of_error(exc: ServiceError, default: str) -> str:
    step = _STEP_OF_CODE.get(exc.code)
    if step is None:
        step = next(
            (_STEP_OF_FIELD[f.split(".")[0]] for f in exc.fields if f.split(".")[0] in _STEP_OF_FIELD), None
        )
    if step is None and any(f.startswith("proxy") for f in exc.fields):
        step = "materials"
    return step or default


# --- State ---


def _fresh_state() -> dict:
    return {
        "key": uuid.uuid4().hex,
        "group": "",
        "destination": "",
        "address": "",
        "all_institutions": True,
        "institutions": [],
        "start_date": "",
        "end_date": "",
        "commitment": False,
        "filing_id": None,
        "done": [],
        "errors": {},
    }


class Wizard:
    """The wizard's state in the session, saved on every change."""

    def __init__(self, request):
        self.request = request
        self.person = request.person
        state = request.session.get(SESSION_KEY)
        self.state = state if isinstance(state, dict) and "key" in state else _fresh_state()

    def save(self) -> None:
        self.request.session[SESSION_KEY] = self.state
        self.request.session.modified = True

    def clear(self) -> None:
        self.request.session.pop(SESSION_KEY, None)

    def __getitem__(self, name):
        return self.state.get(name)

    def update(self, **values) -> None:
        self.state.update(values)
        self.save()

    def mark_done(self, step: str) -> None:
        done = [s for s in self.state["done"] if s != step] + [step]
        self.state["errors"].pop(step, None)
        self.update(done=done)

    def undo_from(self, step: str) -> None:
        """A change on an earlier step invalidates what the later steps checked."""
        index = STEP_NAMES.index(step)
        self.update(done=[s for s in self.state["done"] if STEP_NAMES.index(s) <= index])

    def reopen(self, step: str) -> None:
        """Make `step` the one to fill in again (its error is shown there)."""
        self.update(done=STEP_NAMES[: STEP_NAMES.index(step)])

    def set_error(self, step: str, message: str) -> None:
        self.state["errors"][step] = str(message)
        self.save()

    def pop_error(self, step: str) -> str:
        message = self.state["errors"].pop(step, "")
        if message:
            self.save()
        return message

    def first_open_step(self) -> str:
        for name in STEP_NAMES:
            if name not in self.state["done"]:
                return name
        return STEP_NAMES[-1]

    def can_open(self, step: str) -> bool:
        index = STEP_NAMES.index(step)
        return all(name in self.state["done"] for name in STEP_NAMES[:index])

    @property
    def draft(self):
        if not self.state.get("filing_id"):
            return None
        try:
            filing = filing_selectors.filing_get_for_person(
                person=self.person, filing_id=self.state["filing_id"]
            )
        except NotFound:
            filing = None
        if filing is None or filing.status != FilingStatus.DRAFT:
            # Submitted or cancelled elsewhere: the wizard starts again.
            self.state = _fresh_state()
            self.save()
            return None
        return filing

    def load_draft(self, filing) -> None:
        picks = [pick.institution.code for pick in filing.picks.all()]
        self.state = _fresh_state()
        self.state.update(
            group=filing.group,
            destination=filing.destination_id,
            address=filing.destination_address,
            all_institutions=not picks and not filing.pick_required,
            institutions=picks,
            start_date=filing.start_date.isoformat(),
            end_date=filing.end_date.isoformat() if filing.end_date and not filing.long_term else "",
            commitment=filing.commitment,
            filing_id=filing.pk,
            done=STEP_NAMES[:4],
        )
        self.save()

    def preview(self, group: str | None = None, destination: str | None = None) -> dict | None:
        group = group or self.state["group"]
        destination = destination or self.state["destination"]
        if not group or not destination:
            return None
        return filing_selectors.filing_rules_preview(person=self.person, group=group, destination=destination)


def _dates(state: dict) -> tuple[dt.date | None, dt.date | None]:
    start = dt.date.fromisoformat(state["start_date"]) if state.get("start_date") else None
    end = dt.date.fromisoformat(state["end_date"]) if state.get("end_date") else None
    return start, end


def _refused(wizard: Wizard, exc: ServiceError, step: str) -> str:
    """Keep the service's message for the step it concerns; that step is filled in again."""
    target = step_of_error(exc, step)
    wizard.set_error(target, exc.message)
    wizard.reopen(target)
    return target


def _apply(wizard: Wizard, *, step: str, **changes) -> str | None:
    """Write changes to the draft (if there is one yet). Returns the step to show a refusal on, or None."""
    draft = wizard.draft
    if draft is None:
        return None
    try:
        filing_services.filing_update_draft(filing=draft, actor=wizard.request.user, **changes)
    except ServiceError as exc:
        return _refused(wizard, exc, step)
    return None


def _create_draft(wizard: Wizard) -> str | None:
    state = wizard.state
    start, end = _dates(state)
    try:
        filing = filing_services.filing_create_draft(
            person=wizard.person,
            actor=wizard.request.user,
            group=state["group"],
            destination=state["destination"],
            destination_address=state["address"],
            start_date=start,
            end_date=end,
            institutions=[] if state["all_institutions"] else state["institutions"],
            commitment=state["commitment"],
            channel="web",
            idempotency_key=state["key"],
        )
    except ServiceError as exc:
        return _refused(wizard, exc, "dates")
    wizard.update(filing_id=filing.pk)
    return None


def document_add_from_request(request, filing) -> bool:
    """Attach the uploaded file of a DocumentForm to a draft; the outcome is told with a message."""
    form = DocumentForm(request.POST, request.FILES, kinds=DocumentKind.choices)
    if not form.is_valid():
        messages.error(request, _("Choose a document type and a file."))
        return False
    try:
        filing_services.document_add(
            filing=filing,
            actor=request.user,
            upload=form.cleaned_data["upload"],
            kind=form.cleaned_data["kind"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, _("The document has been added."))
    return True


def _go(step: str):
    return redirect("web:wizard-step", step=step)


def _render(request, wizard: Wizard, step: str, context: dict):
    index = STEP_NAMES.index(step)
    steps = [
        {
            "name": s.name,
            "label": s.label,
            "done": s.name in wizard.state["done"] and s.name != step,
            "current": s.name == step,
            "open": wizard.can_open(s.name),
        }
        for s in STEPS
    ]
    context.update(
        tab="filings",
        step=step,
        steps=steps,
        step_number=index + 1,
        step_count=len(STEPS),
        step_label=STEPS[index].label,
        state=wizard.state,
        step_error=wizard.pop_error(step),
        previous=STEP_NAMES[index - 1] if index else None,
    )
    return render(request, f"web/wizard/{step}.html", context)


# --- Views ---


@require_http_methods(["GET", "POST"])
@person_required
def wizard_start(request):
    """Resume the wizard where it stopped, load a saved draft (`?draft=`), or start again (POST)."""
    wizard = Wizard(request)
    if request.method == "POST":
        wizard.clear()
        return _go("group")
    draft_id = request.GET.get("draft")
    if draft_id:
        try:
            filing = filing_selectors.filing_get_for_person(person=request.person, filing_id=int(draft_id))
        except (NotFound, ValueError):
            raise Http404 from None
        if filing.status != FilingStatus.DRAFT:
            return redirect("web:filing", filing_id=filing.pk)
        wizard.load_draft(filing)
        return _go("materials")
    wizard.save()
    return _go(wizard.first_open_step())


@require_http_methods(["GET", "POST"])
@person_required
def wizard_step(request, step: str):
    if step not in STEP_NAMES:
        raise Http404
    wizard = Wizard(request)
    if not wizard.can_open(step):
        return _go(wizard.first_open_step())
    return _HANDLERS[step](request, wizard)


def _group_policy_rows(person):
    policy = filing_selectors.filing_policy_for(region=person.insured_region_id)
    rows = []
    for value, label in FilingGroup.choices:
        rule = filing_selectors.group_rule_of(policy=policy, group=value)
        rows.append(
            {
                "value": value,
                "label": label,
                "help": GROUP_HELP[FilingGroup(value)],
                "long_term": FilingGroup(value).long_term,
                "accepted": bool(rule and rule.accepted),
                "commitment": bool(rule and rule.commitment_allowed),
                "retired_only": bool(rule and rule.retired_required),
                "reduction": filing_selectors.ratio_cut_points(person=person, group=value),
            }
        )
    return rows


_GROUP_CODES = {E.PERSON_NOT_ACTIVE.value, E.GROUP_NOT_ACCEPTED.value, E.NOT_RETIRED.value}


def step_group(request, wizard: Wizard):
    groups = FilingGroup.choices
    form = GroupStepForm(request.POST or None, groups=groups, initial={"group": wizard["group"]})
    error = ""
    if request.method == "POST" and form.is_valid():
        group = form.cleaned_data["group"]
        # Eligibility of the group alone: the destination is checked on its own step.
        preview = wizard.preview(
            group=group, destination=wizard["destination"] or wizard.person.insured_region_id
        )
        problems = [r["message"] for r in preview["reasons"] if r["code"] in _GROUP_CODES]
        if problems:
            error = problems[0]
        else:
            if group != wizard["group"]:
                failed = _apply(wizard, step="group", group=group, end_date=None, commitment=False)
                if failed:
                    return _go(failed)
                wizard.update(group=group, end_date="", commitment=False)
                wizard.undo_from("group")
            wizard.mark_done("group")
            return _go("destination")
    under_review = next(
        (
            f
            for f in filing_selectors.filings_for_person(person=wizard.person)
            if f.status == FilingStatus.SUBMITTED and f.group != FilingGroup.EMERGENCY
        ),
        None,
    )
    return _render(
        request,
        wizard,
        "group",
        {
            "form": form,
            "groups": _group_policy_rows(wizard.person),
            "error": error,
            "under_review": under_review,
            "selected": form.data.get("group") if form.is_bound else wizard["group"],
        },
    )


def _destination_options(person):
    """Provinces outside the person's own, each with its pooling areas, for the no-JS select."""
    own = person.insured_region_id[:2]
    regions = Region.objects.exclude(code__startswith=own).filter(
        level=RegionLevel.PROVINCE
    ) | Region.objects.exclude(code__startswith=own).filter(is_pooling_area=True)
    provinces: dict[str, dict] = {}
    for region in regions.order_by("code"):
        key = region.code[:2]
        if region.level == RegionLevel.PROVINCE:
            provinces.setdefault(key, {"province": region, "areas": []})["province"] = region
        else:
            provinces.setdefault(key, {"province": None, "areas": []})["areas"].append(region)
    return [p for p in provinces.values() if p["province"] is not None]


def step_destination(request, wizard: Wizard):
    form = DestinationStepForm(request.POST or None, initial={"destination": wizard["destination"]})
    error = ""
    chosen = wizard["destination"]
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["destination"]
        address = request.POST.get("address", "").strip()[:200]
        try:
            preview = wizard.preview(destination=code)
        except ServiceError as exc:
            preview, error = None, exc.message
        if preview is not None and not preview["eligible"]:
            error = preview["reasons"][0]["message"]
        if not error:
            changed = code != wizard["destination"]
            changes = {"destination": code, "destination_address": address}
            if changed:
                changes["institutions"] = []
            failed = _apply(wizard, step="destination", **changes)
            if failed:
                return _go(failed)
            if changed:
                wizard.update(destination=code, institutions=[], all_institutions=True)
                wizard.undo_from("destination")
            wizard.update(address=address)
            wizard.mark_done("destination")
            return _go("institutions")
        chosen = code
    if request.method == "GET" and request.GET.get("d"):
        chosen = request.GET["d"][:6]  # a look before choosing: nothing is saved
    preview = None
    if chosen and not error:
        try:
            preview = wizard.preview(destination=chosen)
        except ServiceError:
            preview = None
    return _render(
        request,
        wizard,
        "destination",
        {
            "form": form,
            "error": error,
            "provinces": _destination_options(wizard.person),
            "chosen": chosen,
            "person": wizard.person,
            "preview": preview,
            "chosen_region": Region.objects.select_related("parent").filter(code=chosen).first()
            if chosen
            else None,
        },
    )


def step_institutions(request, wizard: Wizard):
    preview = wizard.preview()
    destination = Region.objects.select_related("parent").get(code=wizard["destination"])
    chosen_codes = list(wizard["institutions"])
    error = ""
    if request.method == "POST":
        if "add" in request.POST:
            code = request.POST["add"].strip().upper()
            if code not in chosen_codes:
                if len(chosen_codes) >= preview["max_institutions"]:
                    error = _("You can pick at most %(count)d institutions.") % {
                        "count": preview["max_institutions"]
                    }
                else:
                    chosen_codes.append(code)
            if not error:
                wizard.update(institutions=chosen_codes, all_institutions=False)
            return _institutions_redirect(request, error, wizard)
        if "remove" in request.POST:
            code = request.POST["remove"].strip().upper()
            wizard.update(institutions=[c for c in chosen_codes if c != code])
            return _institutions_redirect(request, "", wizard)
        mode = request.POST.get("mode", "pick" if chosen_codes else "all")
        all_institutions = mode == "all" and not preview["pick_required"]
        picks = [] if all_institutions else chosen_codes
        if not all_institutions and not picks:
            if preview["pick_required"]:
                error = _("Your insured area asks you to pick 1 to %(count)d institutions.") % {
                    "count": preview["max_institutions"]
                }
            else:
                error = _("Pick at least one institution, or choose all networked institutions.")
        else:
            failed = _apply(wizard, step="institutions", institutions=picks)
            if failed:
                return _go(failed)
            wizard.update(all_institutions=all_institutions, institutions=picks)
            wizard.mark_done("institutions")
            return _go("dates")
    search = InstitutionSearchForm(
        request.GET or None,
        levels=InstitutionLevel.choices,
        services=Service.choices,
    )
    results = Institution.objects.in_region(destination).settling().select_related("region")
    if preview["required_service"]:
        results = results.offering(preview["required_service"])
    if search.is_valid():
        data = search.cleaned_data
        if data["q"]:
            results = results.filter(name__contains=data["q"].strip()) | results.filter(
                code=data["q"].strip().upper()
            )
        if data["level"] not in (None, ""):
            results = results.filter(level=int(data["level"]))
        if data["service"]:
            results = results.offering(data["service"])
    chosen = {i.code: i for i in Institution.objects.filter(code__in=chosen_codes).select_related("region")}
    return _render(
        request,
        wizard,
        "institutions",
        {
            "preview": preview,
            "destination": destination,
            "search": search,
            "results": list(results.order_by("-level", "code")[:30]),
            "chosen": [chosen[c] for c in chosen_codes if c in chosen],
            "chosen_codes": chosen_codes,
            "error": error,
            "js_labels": {
                "add": _("Add"),
                "added": _("Added"),
                "empty": _("No institution matches."),
                "levels": {str(k): str(v) for k, v in InstitutionLevel.choices},
                "services": {k: str(v) for k, v in Service.choices},
            },
            "mode": "all"
            if wizard["all_institutions"] and not chosen_codes and not preview["pick_required"]
            else "pick",
        },
    )


def _institutions_redirect(request, error: str, wizard: Wizard):
    if error:
        wizard.set_error("institutions", error)
    query = request.POST.get("query", "")
    url = reverse("web:wizard-step", kwargs={"step": "institutions"})
    return redirect(f"{url}?{query}" if query else url)


def step_dates(request, wizard: Wizard):
    preview = wizard.preview()
    start, end = _dates(wizard.state)
    draft = wizard.draft
    if draft is not None:
        start, end = draft.start_date, None if draft.long_term else draft.end_date
    form = DatesStepForm(
        request.POST or None, initial={"start_date": start or timezone.localdate(), "end_date": end}
    )
    if request.method == "POST" and form.is_valid():
        start, end = form.cleaned_data["start_date"], form.cleaned_data["end_date"]
        if preview["long_term"]:
            end = None
        wizard.update(start_date=start.isoformat(), end_date=end.isoformat() if end else "")
        if draft is None:
            failed = _create_draft(wizard)
        else:
            failed = _apply(wizard, step="dates", start_date=start, end_date=end)
        if failed:
            return _go(failed)
        wizard.mark_done("dates")
        return _go("materials")
    return _render(request, wizard, "dates", {"form": form, "preview": preview, "draft": draft})


def step_materials(request, wizard: Wizard):
    draft = wizard.draft
    if draft is None:
        wizard.undo_from("institutions")
        return _go("dates")
    preview = wizard.preview()
    proxy_form = ProxyForm(request.POST or None, prefix="proxy", initial=ProxyForm.initial_from(draft))
    form = MaterialsStepForm(request.POST or None, initial={"commitment": draft.commitment})
    if request.method == "POST":
        action = request.POST.get("action", "next")
        if action == "upload":
            document_add_from_request(request, draft)
            return _go("materials")
        if action.startswith("remove:"):
            document = next((d for d in draft.documents.all() if str(d.pk) == action.split(":", 1)[1]), None)
            if document is not None:
                try:
                    filing_services.document_remove(document=document, actor=request.user)
                except ServiceError as exc:
                    messages.error(request, exc.message)
            return _go("materials")
        if form.is_valid() and proxy_form.is_valid():
            commitment = bool(form.cleaned_data["commitment"]) and preview["commitment_allowed"]
            failed = _apply(wizard, step="materials", commitment=commitment, proxy=proxy_form.cleaned_proxy())
            if failed:
                return _go(failed)
            wizard.update(commitment=commitment)
            wizard.mark_done("materials")
            return _go("review")
    documents = list(draft.documents.all())
    have = {d.kind for d in documents}
    needed = [
        {"kind": m["kind"], "label": m["label"], "have": m["kind"] in have} for m in preview["materials"]
    ]
    kinds = [(m["kind"], m["label"]) for m in preview["materials"]] + [
        (k, label)
        for k, label in DocumentKind.choices
        if k not in {m["kind"] for m in preview["materials"]} and k != DocumentKind.COMMITMENT_LETTER
    ]
    return _render(
        request,
        wizard,
        "materials",
        {
            "preview": preview,
            "draft": draft,
            "documents": documents,
            "needed": needed,
            "form": form,
            "proxy_form": proxy_form,
            "document_form": DocumentForm(kinds=kinds),
            "relations": ProxyRelation.choices,
        },
    )


def step_review(request, wizard: Wizard):
    draft = wizard.draft
    if draft is None:
        wizard.undo_from("institutions")
        return _go("dates")
    if request.method == "POST":
        try:
            filing = filing_services.filing_submit(
                filing=draft, actor=request.user, idempotency_key=wizard["key"] + "-submit"
            )
        except ServiceError as exc:
            return _go(_refused(wizard, exc, "review"))
        wizard.clear()
        if filing.status == FilingStatus.APPROVED:
            messages.success(request, _("Your filing has been approved. You can settle directly now."))
        else:
            messages.success(
                request, _("Your filing has been submitted. We will tell you when it is decided.")
            )
        return redirect("web:filing", filing_id=filing.pk)
    preview = wizard.preview()
    return _render(
        request,
        wizard,
        "review",
        {
            "draft": draft,
            "preview": preview,
            "picks": [p.institution for p in draft.picks.all()],
            "documents": list(draft.documents.all()),
            "scheme_label": Scheme(wizard.person.scheme).label,
        },
    )


_HANDLERS = {
    "group": step_group,
    "destination": step_destination,
    "institutions": step_institutions,
    "dates": step_dates,
    "materials": step_materials,
    "review": step_review,
}


@require_POST
@person_required
def wizard_discard(request):
    """Throw the unfinished filing away: the draft is cancelled and the wizard starts again."""
    wizard = Wizard(request)
    draft = wizard.draft
    if draft is not None:
        try:
            filing_services.filing_cancel(filing=draft, actor=request.user, reason="")
        except ServiceError as exc:
            messages.error(request, exc.message)
            return _go(wizard.first_open_step())
    wizard.clear()
    messages.info(request, _("The unfinished filing was discarded."))
    return redirect("web:filings")
