"""The pages: sign-in, the insured person's phone pages and the counter page. Views only translate HTTP to
service calls and back; every decision is taken by the services of the apps."""

from __future__ import annotations

import base64
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language

from accounts.errors import AccountErrorCode
from accounts.services import user_authenticate
from accounts.tokens import user_sign_out_everywhere
from core.audit import audit_history
from core.db import for_reading, replica_reads
from core.errors import NotFound, ServiceError
from ecode import qr
from ecode.models import CredentialStatus
from ecode.selectors import SETTLEMENT_USE_WINDOW, code_events_for_person, credential_for_person
from ecode.services import credential_activate, ecode_consume, ecode_verify, token_issue
from filing import selectors as filing_selectors
from filing import services as filing_services
from filing.choices import DocumentKind, FilingStatus
from notifications import services as notification_services
from notifications.selectors import inbox_for_person, unread_count
from reference.choices import Scheme, Service
from settlement.selectors import settlements_list

from .access import counter_required, person_of, person_required
from .forms import CancelForm, DocumentForm, ScanForm, SignInForm
from .services import user_language_set
from .timeline import filing_timeline
from .wizard import document_add_from_request

# --- Sign-in, sign-out, language ---


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _remember_language(request, response, user) -> None:
    """An explicit choice made on this device wins and is kept on the account; otherwise the account's."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen and user_language_set(user=user, language=chosen):
        return
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        user.language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _sign_in(request, *, counter: bool):
    home = reverse("web:counter") if counter else reverse("web:home")
    if request.user.is_authenticated and (request.user.is_counter if counter else person_of(request.user)):
        return redirect(home)
    form = SignInForm(request.POST or None, counter=counter)
    error = ""
    retry_after = None
    if request.method == "POST" and form.is_valid():
        try:
            user = user_authenticate(
                request=request,
                identifier=form.cleaned_data["identifier"].strip(),
                password=form.cleaned_data["password"],
            )
        except ServiceError as exc:
            error = exc.message
            retry_after = getattr(exc, "retry_after", None)  # locked: 429 and when to try again
            if (
                counter and exc.code == AccountErrorCode.INVALID_CREDENTIALS
            ):  # the field is the operator account
                error = _("Wrong operator username or password.")
        else:
            if counter and not (user.is_counter and user.institution_id):
                error = _("This sign-in is for counter operators of an institution.")
            elif not counter and person_of(user) is None:
                error = _("This sign-in is for insured people. Counter staff sign in on the counter page.")
            else:
                login(request, user)
                response = HttpResponseRedirect(_safe_next(request, home))
                _remember_language(request, response, user)
                return response
    response = render(
        request,
        "web/login.html",
        {
            "form": form,
            "error": error,
            "counter": counter,
            "next": _safe_next(request, ""),
        },
        status=429 if retry_after else 401 if error else 200,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request):
    return _sign_in(request, counter=False)


@never_cache
@require_http_methods(["GET", "POST"])
def counter_sign_in(request):
    return _sign_in(request, counter=True)


@require_POST
def sign_out(request):
    counter = request.user.is_authenticated and request.user.is_counter
    logout(request)
    return redirect("web:counter-login" if counter else "web:login")


@require_POST
@person_required
def sign_out_everywhere(request):
    """Every web session and API token of the person ends, this one included."""
    user_sign_out_everywhere(user=request.user, actor=request.user)
    logout(request)
    messages.success(request, _("You are signed out on every phone and device."))
    return redirect("web:login")


@require_POST
def language(request):
    """Django's set_language, plus the choice kept on the account of a signed-in user."""
    response = set_language(request)
    chosen = request.POST.get("language", "")
    if request.user.is_authenticated and response.status_code in (200, 302):
        user_language_set(user=request.user, language=chosen)
    return response


# --- The insured person's pages ---


def _credential_state(credential) -> str:
    if credential is None:
        return "not_activated"
    return credential.status


def home(request):
    """The person's home; counter operators and staff are sent to their own pages."""
    user = request.user
    if user.is_authenticated and user.is_counter:
        return redirect("web:counter")
    if user.is_authenticated and user.is_staff and person_of(user) is None:
        return redirect("admin:index")
    return _person_home(request)


@person_required
def _person_home(request):
    person = request.person
    with replica_reads():  # lists that may be a moment old; what is in force is read from the primary
        filings = list(filing_selectors.filings_for_person(person=person)[:10])
        notices = list(inbox_for_person(person=person)[:3])
        unread = unread_count(person=person)
    in_force = filing_selectors.filing_in_force(person=person)
    pending = [f for f in filings if f.status in (FilingStatus.SUBMITTED, FilingStatus.DRAFT)]
    return render(
        request,
        "web/home.html",
        {
            "tab": "home",
            "person": person,
            "scheme_label": Scheme(person.scheme).label,
            "credential_state": _credential_state(credential_for_person(person=person)),
            "in_force": in_force,
            "pending": pending[:2],
            "notices": notices,
            "unread": unread,
        },
    )


@person_required
def me(request):
    person = request.person
    return render(
        request,
        "web/me.html",
        {
            "tab": "me",
            "person": person,
            "scheme_label": Scheme(person.scheme).label,
        },
    )


# --- Settlements ---


@person_required
@replica_reads()
def settlements(request):
    """The person's direct settlements, newest first, with what each fund paid and what they paid."""
    return render(
        request,
        "web/settlements.html",
        {"tab": "me", "settlements": list(settlements_list(user=request.user)[:100])},
    )


# --- Notices ---


@person_required
@replica_reads()
def notices(request):
    person = request.person
    return render(
        request,
        "web/notices.html",
        {
            "tab": "notices",
            "notices": list(inbox_for_person(person=person)[:100]),
            "unread": unread_count(person=person),
        },
    )


@person_required
def notice_detail(request, notice_id: int):
    try:
        notice = notification_services.notification_mark_read(
            person=request.person, notification_id=notice_id
        )
    except ServiceError as exc:
        if exc.status_code == 404:
            raise Http404 from None
        raise
    return render(request, "web/notice_detail.html", {"tab": "notices", "notice": notice})


@require_POST
@person_required
def notices_read_all(request):
    count = notification_services.notifications_mark_all_read(person=request.person)
    if count:
        messages.success(request, _("All notices marked as read."))
    return redirect("web:notices")


# --- E-code ---


def _svg_data_uri(token: str) -> str:
    svg = qr.render_svg(token)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _issued_body(issued) -> dict:
    now = timezone.now()
    return {
        "token": issued.token,
        "image": _svg_data_uri(issued.token),
        "expires_at": issued.expires_at.isoformat(),
        "refresh_after": issued.refresh_after.isoformat(),
        "expires_in": max(0, int((issued.expires_at - now).total_seconds())),
        "refresh_in": max(1, int((issued.refresh_after - now).total_seconds())),
        "lifetime": int((issued.expires_at - issued.issued_at).total_seconds()),
    }


@never_cache
@person_required
def ecode(request):
    person = request.person
    credential = credential_for_person(person=person)
    issued, error = None, ""
    if credential is not None and credential.status == CredentialStatus.ACTIVE:
        try:
            issued = _issued_body(token_issue(credential=credential))
        except ServiceError as exc:
            error = exc.message
    return render(
        request,
        "web/ecode.html",
        {
            "tab": "ecode",
            "person": person,
            "credential": credential,
            "state": _credential_state(credential),
            "issued": issued,
            "error": error,
            "events": list(for_reading(code_events_for_person(person=person))[:5]),
            "in_force": filing_selectors.filing_in_force(person=person),
        },
    )


@never_cache
@require_GET
@person_required
def ecode_current(request):
    """A fresh code for the page to swap in before the shown one expires."""
    credential = credential_for_person(person=request.person)
    if credential is None:
        return JsonResponse(
            {"code": "not_activated", "message": _("Activate your e-code first.")}, status=409
        )
    try:
        issued = token_issue(credential=credential)
    except ServiceError as exc:
        return JsonResponse({"code": str(exc.code), "message": exc.message}, status=409)
    return JsonResponse(_issued_body(issued))


@require_POST
@person_required
def ecode_activate(request):
    try:
        credential_activate(person=request.person, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your e-code is activated."))
    return redirect("web:ecode")


# --- My filings ---


def _filing_or_404(request, filing_id: int):
    try:
        return filing_selectors.filing_get_for_person(person=request.person, filing_id=filing_id)
    except NotFound:
        raise Http404 from None


@person_required
@replica_reads()
def filings(request):
    return render(
        request,
        "web/filings/list.html",
        {
            "tab": "filings",
            "filings": list(filing_selectors.filings_for_person(person=request.person)),
        },
    )


@person_required
def filing_detail(request, filing_id: int):
    filing = _filing_or_404(request, filing_id)
    return render(
        request,
        "web/filings/detail.html",
        {
            "tab": "filings",
            "filing": filing,
            "timeline": filing_timeline(filing, audit_history(filing)),
            "picks": [pick.institution for pick in filing.picks.all()],
            "documents": list(filing.documents.all()),
            "can_cancel": filing_services.filing_transition_allowed(
                filing=filing, to=FilingStatus.CANCELLED, actor=request.user
            ),
            "can_add_documents": filing.status in filing_services.DOCUMENTS_EDITABLE,
            "cancel_form": CancelForm(),
            "document_form": DocumentForm(kinds=DocumentKind.choices),
        },
    )


@require_POST
@person_required
def filing_cancel(request, filing_id: int):
    filing = _filing_or_404(request, filing_id)
    form = CancelForm(request.POST)
    if not form.is_valid():  # the reason the person typed is kept with the cancellation, or nothing is done
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("web:filing", filing_id=filing.pk)
    try:
        filing_services.filing_cancel(filing=filing, actor=request.user, reason=form.cleaned_data["reason"])
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The filing has been cancelled."))
    return redirect("web:filing", filing_id=filing.pk)


@require_POST
@person_required
def filing_document_add(request, filing_id: int):
    filing = _filing_or_404(request, filing_id)
    document_add_from_request(request, filing)
    return redirect("web:filing", filing_id=filing.pk)


@require_POST
@person_required
def filing_document_remove(request, filing_id: int, document_id: int):
    try:
        document = filing_selectors.document_get_for_person(
            person=request.person, filing_id=filing_id, document_id=document_id
        )
    except NotFound:
        raise Http404 from None
    try:
        filing_services.document_remove(document=document, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The document has been removed."))
    return redirect(_safe_next(request, reverse("web:filing", args=[filing_id])))


@require_GET
@person_required
def filing_document_download(request, filing_id: int, document_id: int):
    try:
        document = filing_selectors.document_get_for_person(
            person=request.person, filing_id=filing_id, document_id=document_id
        )
    except NotFound:
        raise Http404 from None
    response = FileResponse(
        document.file.open("rb"),
        content_type=document.content_type,
        as_attachment=not document.is_image,
        filename=document.download_name,
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- The counter ---


def _counter_context(request, **extra) -> dict:
    institution = request.user.institution
    return {"institution": institution, "form": ScanForm(), **extra}


def _bill_words() -> dict:
    """What the bill's script says, in the cashier's language (the money and the refusals come from the API)."""
    return {
        "classes": {"A": _("Class A"), "B": _("Class B"), "C": _("Class C"), "": _("Not in catalogue")},
        "remove": _("Remove"),
        "no_results": _("No item of the catalogue matches."),
        "searching": _("Searching…"),
        "price_needed": _("Enter the unit price of each item."),
        "network": _("The server could not be reached; nothing was settled. Try again."),
        "settling": _("Settling…"),
        "reversing": _("Reversing…"),
        "reversed_on": _(
            "The funds' share goes back to the funds and the person's year totals are restored."
        ),
        "verdict_settled": _("Code used: the bill is settled"),
        "verdict_settled_line": _("Print the receipt for the patient. It can be reversed today only."),
        "verdict_reversed": _("Code used: the settlement is reversed"),
        "verdict_reversed_line": _("To settle the bill again, scan a new code of the patient."),
        "quantity": _("Quantity"),
        "unit_price": _("Unit price"),
    }


def _visit_types(institution) -> list[tuple[str, str]]:
    """The visit types the institution settles directly (a pharmacy: general outpatient only)."""
    # Outpatient first: most bills at a counter are outpatient ones.
    order = (Service.GENERAL_OUTPATIENT, Service.CHRONIC_OUTPATIENT, Service.INPATIENT)
    offered = [(service.value, service.label) for service in order if institution.offers(service)]
    return offered or [(Service.GENERAL_OUTPATIENT.value, Service.GENERAL_OUTPATIENT.label)]


def _counter_result(request, result, *, token: str, used: bool):
    context = _counter_context(
        request,
        result=result,
        token=token,
        used=used,
        scheme_label=Scheme(result.scheme).label if result.scheme else "",
        # A use is settled within this window (ecode.selectors.code_event_for_settlement).
        settle_by=result.checked_at + SETTLEMENT_USE_WINDOW if result.use_id and result.checked_at else None,
    )
    if used and result.use_id:
        context.update(
            today=timezone.localdate(),
            visit_types=_visit_types(request.user.institution),
            bill_words=_bill_words(),
        )
    if request.headers.get("X-Requested-With") == "fetch":
        return render(request, "web/counter/_result.html", context)
    return render(request, "web/counter/index.html", context)


@never_cache
@counter_required
def counter(request):
    return render(request, "web/counter/index.html", _counter_context(request))


def _counter_refusal(request, message: str, *, status: int, form=None):
    # Shown where the result goes; the header tells the page's script this 403 is an answer, not an expired
    # session to reload for.
    context = _counter_context(request, input_error=message, **({"form": form} if form is not None else {}))
    template = (
        "web/counter/_result.html"
        if request.headers.get("X-Requested-With") == "fetch"
        else "web/counter/index.html"
    )
    response = render(request, template, context, status=status)
    response["X-Counter-Refusal"] = "1"
    return response


def _counter_check(request, check, *, used: bool):
    form = ScanForm(request.POST)
    if not form.is_valid():
        return _counter_refusal(request, _("Scan or type the e-code."), status=400, form=form)
    token = form.cleaned_data["token"]
    # Only a use says whether it is an emergency (treated as filed where no filing is in force here).
    extra = {"emergency": form.cleaned_data["emergency"]} if used else {}
    try:
        result = check(token=token, operator=request.user, request_no=uuid.uuid4().hex, **extra)
    except ServiceError as exc:  # e.g. the institution is no longer active
        return _counter_refusal(request, exc.message, status=exc.status_code)
    return _counter_result(request, result, token=token, used=used)


@never_cache
@require_POST
@counter_required
def counter_verify(request):
    return _counter_check(request, ecode_verify, used=False)


@never_cache
@require_POST
@counter_required
def counter_use(request):
    return _counter_check(request, ecode_consume, used=True)
