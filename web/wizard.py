"""The filing wizard: group → destination → institutions → dates → materials → review.

The draft filing is the wizard's one state: it is made through `filing_create_draft` as soon as the group and
the destination are known, and every later step changes it through `filing_update_draft`, so what the person
types (the address, a proxy's details) is kept only in the draft's encrypted fields. The session holds where
the person is: the steps done, the chosen group until the draft exists, and the draft's id. `?draft=<id>` loads
a saved draft into the wizard again. The services take every decision: an error they raise is shown on the step
that owns the field it concerns, and what the draft still lacks is said on the materials step and on the review.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import NotFound, ServiceError
from filing import selectors as filing_selectors
from filing import services as filing_services
from filing.choices import DocumentKind, FilingGroup, FilingStatus, ProxyRelation
from filing.dates import today
from filing.errors import FilingErrorCode as E
from reference.choices import InstitutionLevel, Scheme, Service
from reference.selectors import destination_choices, institution_search

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

SESSION_KEY = "web_filing_wizard"


def _fresh_state() -> dict:
    # Only where the person is: the filing itself (address, proxy, dates, picks) lives in the draft, whose
    # personal fields are encrypted; the session never holds what the person typed.
    return {"key": uuid.uuid4().hex, "group": "", "filing_id": None, "done": [], "errors": {}}


class Wizard:
    """Where the person is in the wizard (kept in the session) and their draft filing (the filing's one state)."""

    def __init__(self, request):
        self.request = request
        self.person = request.person
        state = request.session.get(SESSION_KEY)
        fresh = _fresh_state()
        self.state = state if isinstance(state, dict) and set(state) == set(fresh) else fresh
        self._draft = None

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
        self.update(done=[s for s in STEP_NAMES[: STEP_NAMES.index(step)] if s in self.state["done"]])

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
        if self._draft is not None:
            return self._draft
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
        self._draft = filing
        return filing

    def forget_draft(self) -> None:
        self._draft = None

    @property
    def group(self) -> str:
        draft = self.draft
        return draft.group if draft is not None else self.state["group"]

    @property
    def destination(self) -> str:
        draft = self.draft
        return draft.destination_id if draft is not None else ""

    def load_draft(self, filing) -> None:
        self.state = _fresh_state()
        self.state.update(filing_id=filing.pk, done=STEP_NAMES[:4])
        self._draft = filing
        self.save()

    def preview(self, group: str | None = None, destination: str | None = None) -> dict | None:
        group = group or self.group
        destination = destination or self.destination
        if not group or not destination:
            return None
        return filing_selectors.filing_rules_preview(person=self.person, group=group, destination=destination)


def _refused(wizard: Wizard, exc: ServiceError, step: str) -> str:
    """Keep the service's message for the step it concerns; that step is filled in again."""
    target = step_of_error(exc, step)
    wizard.set_error(target, exc.message)
    wizard.reopen(target)
    return target


def _apply(wizard: Wizard, *, step: str, **changes) -> str | None:
    """Write changes to the draft. Returns the step to show a refusal on, or None."""
    draft = wizard.draft
    if draft is None:
        return None
    try:
        wizard._draft = filing_services.filing_update_draft(
            filing=draft, actor=wizard.request.user, **changes
        )
    except ServiceError as exc:
        wizard.forget_draft()
        return _refused(wizard, exc, step)
    return None


def _missing(wizard: Wizard, code: E) -> ServiceError | None:
    """What the service says the draft still lacks for `code` (the refusal submitting would give)."""
    return next((p for p in filing_services.filing_missing(filing=wizard.draft) if p.code == code), None)


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
        draft=wizard.draft,
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
    # Bound on every POST: "Next" with nothing chosen sends an empty form, which is told what to do.
    data = request.POST if request.method == "POST" else None
    form = GroupStepForm(data, groups=groups, initial={"group": wizard.group})
    error = ""
    if request.method == "POST" and not form.is_valid():
        error = form.errors["group"][0]
    elif request.method == "POST":
        group = form.cleaned_data["group"]
        # Eligibility of the group alone: the destination is checked on its own step.
        preview = wizard.preview(
            group=group, destination=wizard.destination or wizard.person.insured_region_id
        )
        problems = [r["message"] for r in preview["reasons"] if r["code"] in _GROUP_CODES]
        if problems:
            error = problems[0]
        else:
            if group != wizard.group:
                if wizard.draft is not None:
                    failed = _apply(wizard, step="group", group=group, end_date=None, commitment=False)
                    if failed:
                        return _go(failed)
                else:
                    wizard.update(group=group)
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
            "selected": form.data.get("group") if form.is_bound else wizard.group,
        },
    )


def _draft_create(wizard: Wizard, *, destination: str, address: str):
    """The draft is made once the group and the destination are known; the dates step sets its real dates."""
    filing = filing_services.filing_create_draft(
        person=wizard.person,
        actor=wizard.request.user,
        group=wizard.group,
        destination=destination,
        destination_address=address,
        start_date=today(),
        channel="web",
        idempotency_key=wizard["key"],
    )
    wizard._draft = filing
    wizard.update(filing_id=filing.pk, group="")


def step_destination(request, wizard: Wizard):
    data = request.POST if request.method == "POST" else None
    form = DestinationStepForm(data, initial={"destination": wizard.destination})
    draft = wizard.draft
    error = ""
    chosen = wizard.destination
    # What the person typed is shown again as typed; it is kept only in the draft.
    address = (
        request.POST.get("address", "").strip()[:200]
        if request.method == "POST"
        else (draft.destination_address if draft is not None else "")
    )
    if request.method == "POST" and not form.is_valid():
        error = form.errors["destination"][0]
    elif request.method == "POST":
        code = form.cleaned_data["destination"]
        chosen = code
        try:
            preview = wizard.preview(destination=code)
        except ServiceError as exc:
            preview, error = None, exc.message
        if preview is not None and not preview["eligible"]:
            error = preview["reasons"][0]["message"]
        if not error and "look" not in request.POST:  # a look at what filing there takes saves nothing
            changed = code != wizard.destination
            if draft is None:
                try:
                    _draft_create(wizard, destination=code, address=address)
                except ServiceError as exc:
                    target = step_of_error(exc, "destination")
                    if target == "group":
                        return _go(_refused(wizard, exc, "group"))
                    error = exc.message
            else:
                changes = {"destination": code, "destination_address": address}
                if changed:
                    changes["institutions"] = []
                failed = _apply(wizard, step="destination", **changes)
                if failed:
                    return _go(failed)
            if not error:
                if changed:
                    wizard.undo_from("destination")
                wizard.mark_done("destination")
                return _go("institutions")
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
            "provinces": destination_choices(insured_region=wizard.person.insured_region_id),
            "chosen": chosen,
            "address": address,
            "person": wizard.person,
            "preview": preview,
        },
    )


def step_institutions(request, wizard: Wizard):
    draft = wizard.draft
    if draft is None:
        wizard.undo_from("group")
        return _go("destination")
    preview = wizard.preview()
    destination = draft.destination
    picked = [pick.institution for pick in draft.picks.select_related("institution__region")]
    picks = [institution.code for institution in picked]
    error = ""
    if request.method == "POST":
        if "add" in request.POST or "remove" in request.POST:
            # The filing service decides what may be picked (how many, where, networked).
            if "add" in request.POST:
                code = request.POST["add"].strip().upper()
                wanted = picks if code in picks else [*picks, code]
            else:
                code = request.POST["remove"].strip().upper()
                wanted = [c for c in picks if c != code]
            try:
                filing_services.filing_update_draft(filing=draft, actor=request.user, institutions=wanted)
            except ServiceError as exc:
                wizard.set_error("institutions", exc.message)
            return _institutions_redirect(request)
        # Picks are needed only where the insured area asks for them; elsewhere they are favourites.
        required = _missing(wizard, E.INSTITUTIONS_REQUIRED)
        if required is None:
            wizard.mark_done("institutions")
            return _go("dates")
        error = required.message
    search = InstitutionSearchForm(
        request.GET or None,
        levels=InstitutionLevel.choices,
        services=Service.choices,
    )
    query = search.cleaned_data if search.is_valid() else {}
    results = institution_search(
        region=destination,
        term=query.get("q", ""),
        level=int(query["level"]) if query.get("level") not in (None, "") else None,
        service=preview["required_service"] or "",
        networked=True,
    )
    if query.get("service"):
        results = results.offering(query["service"])
    return _render(
        request,
        wizard,
        "institutions",
        {
            "preview": preview,
            "destination": destination,
            "search": search,
            "results": list(results[:30]),
            "chosen": picked,
            "chosen_codes": picks,
            "error": error,
            "js_labels": {
                "add": _("Add"),
                "added": _("Added"),
                "empty": _("No institution matches."),
                "levels": {str(k): str(v) for k, v in InstitutionLevel.choices},
                "services": {k: str(v) for k, v in Service.choices},
            },
        },
    )


def _institutions_redirect(request):
    query = request.POST.get("query", "")
    url = reverse("web:wizard-step", kwargs={"step": "institutions"})
    return redirect(f"{url}?{query}" if query else url)


def step_dates(request, wizard: Wizard):
    draft = wizard.draft
    if draft is None:
        wizard.undo_from("group")
        return _go("destination")
    preview = wizard.preview()
    start, end = draft.start_date, None if draft.long_term else draft.end_date
    form = DatesStepForm(request.POST or None, initial={"start_date": start, "end_date": end})
    if request.method == "POST" and form.is_valid():
        start, end = form.cleaned_data["start_date"], form.cleaned_data["end_date"]
        if preview["long_term"]:
            end = None
        failed = _apply(wizard, step="dates", start_date=start, end_date=end)
        if failed:
            return _go(failed)
        wizard.mark_done("dates")
        return _go("materials")
    return _render(request, wizard, "dates", {"form": form, "preview": preview})


def _needed_materials(preview: dict, documents: list) -> list[dict]:
    have = {d.kind for d in documents}
    return [{"kind": m["kind"], "label": m["label"], "have": m["kind"] in have} for m in preview["materials"]]


def step_materials(request, wizard: Wizard):
    draft = wizard.draft
    if draft is None:
        wizard.undo_from("group")
        return _go("destination")
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
            # The service refuses a commitment where the insured area needs the documents.
            failed = _apply(
                wizard,
                step="materials",
                commitment=bool(form.cleaned_data["commitment"]),
                proxy=proxy_form.cleaned_proxy(),
            )
            if failed:
                return _go(failed)
            missing = _missing(wizard, E.MATERIALS_MISSING)
            if missing is None:
                wizard.mark_done("materials")
                return _go("review")
            wizard.set_error("materials", missing.message)
            wizard.undo_from("dates")
            return _go("materials")
    documents = list(draft.documents.all())
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
            "documents": documents,
            "needed": _needed_materials(preview, documents),
            "form": form,
            "proxy_form": proxy_form,
            "document_form": DocumentForm(kinds=kinds),
            "relations": ProxyRelation.choices,
        },
    )


def step_review(request, wizard: Wizard):
    draft = wizard.draft
    if draft is None:
        wizard.undo_from("group")
        return _go("destination")
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
    missing = [
        {"message": p.message, "step": step_of_error(p, "materials")}
        for p in filing_services.filing_missing(filing=draft)
    ]
    return _render(
        request,
        wizard,
        "review",
        {
            "preview": preview,
            "picks": [p.institution for p in draft.picks.all()],
            "documents": list(draft.documents.all()),
            "missing": missing,
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
