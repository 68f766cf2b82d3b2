"""Finding people by ID number or mobile number in admin, without the number in any address.

Django admin searches with `?q=<term>`, so a full ID number would land in access logs, proxies and browser
history. On every list that finds people (filings, people, settlements, e-codes, supervision flags) the search
box posts instead (CSRF-protected) to `<list>/person-search/`, and the term is sorted there:

- an ID number, a mobile number, a masked one as the lists show it, or its last 4 characters: the number is
  turned into what the database can match (the keyed hashes of `core.pii`, or the masked text the list already
  shows), kept in the searcher's own session under a random token for `TTL_SECONDS`, and the browser goes to
  `?ps=<token>`. The search is recorded in the audit log: who searched, on which list, by which kind of number,
  and which people it found; never the number.
- a code (a filing's serial number, a settlement number, an institution code: letters and digits, no spaces),
  or on lists that search institutions by name, part of an institution's name: not personal data, so it stays
  in `?q=` where a link can be shared.
- anything else (a name, part of a number) is refused with a message: names are stored encrypted and cannot be
  searched, and a partial number must not reach an address either.

A personal term typed into `?q=` by hand finds nothing. The reviewer's area scope applies as on the list.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from core.audit import audit_record
from core.masking import mask_id_number, mask_phone
from core.validators import normalize_phone

from .services import id_number_hash, phone_hash

PARAM = "ps"
SEARCH_VAR = "q"
TTL_SECONDS = 15 * 60
_SESSION_KEY = "admin_person_searches"
_KEEP = 20  # searches remembered per session; older ones expire early

_PERSONAL = re.compile(r"\+?\d[\dX]{3,}|[\dX*]*\*[\dX*]*")  # digits (an ID may end in X), or a masked number
_CODE = re.compile(r"(?=.*[A-Z])(?=.*\d)[A-Z\d][A-Z\d_.:-]*")  # BA2301…, JS2026…, H4602…, DEMO-DISCHARGE-1
_ID_NUMBER = re.compile(r"\d{17}[\dX]")
_PHONE = re.compile(r"1\d{10}")
_TAIL = re.compile(r"\d{3}[\dX]")


class Kind(StrEnum):
    ID_NUMBER = "id_number"
    PHONE = "phone"
    MASKED = "masked"
    TAIL = "tail"


KIND_WORDS = {
    Kind.ID_NUMBER: _("ID number"),
    Kind.PHONE: _("mobile number"),
    Kind.MASKED: _("masked number"),
    Kind.TAIL: _("last 4 digits"),
}


@dataclass(frozen=True)
class PersonSearch:
    """What a search by number can match: a keyed hash for a full number, the masked text or the last 4
    characters otherwise. `shown` is the number masked as the lists show it."""

    kind: str
    hash: str = ""
    text: str = ""
    shown: str = ""

    @property
    def label(self) -> str:
        return f"{KIND_WORDS[Kind(self.kind)]} {self.shown}"


def _compact(term: str) -> str:
    return re.sub(r"[\s-]", "", term or "").upper()


def is_personal(term: str) -> bool:
    """Whether a search term is (part of) an ID number or mobile number: digits, or a masked number."""
    return bool(_PERSONAL.fullmatch(_compact(term)))


def is_code(term: str) -> bool:
    """Whether a search term is a code that carries no personal data (letters and digits, no spaces)."""
    term = (term or "").strip().upper()
    return bool(_CODE.fullmatch(term)) and not is_personal(term)


def person_search_parse(term: str) -> PersonSearch | None:
    """The search a personal term asks for, or None when it is no whole number, masked number or last 4."""
    compact = _compact(term)
    if _ID_NUMBER.fullmatch(compact):
        return PersonSearch(Kind.ID_NUMBER, hash=id_number_hash(compact), shown=mask_id_number(compact))
    phone = normalize_phone(compact)
    if _PHONE.fullmatch(phone):
        return PersonSearch(Kind.PHONE, hash=phone_hash(phone), shown=mask_phone(phone))
    if "*" in compact and re.search(r"\d", compact):
        return PersonSearch(Kind.MASKED, text=compact, shown=compact)
    if _TAIL.fullmatch(compact):
        return PersonSearch(Kind.TAIL, text=compact, shown=compact)
    return None


def person_search_q(search: PersonSearch, *, person: str = "person__") -> Q:
    """The condition for a whole ID number or mobile number on rows whose person is at `person` ("" for people
    themselves). Masked numbers and last digits need the masked columns of the list's own model."""
    if search.kind == Kind.ID_NUMBER:
        return Q(**{f"{person}id_number_hash": search.hash})
    if search.kind == Kind.PHONE:
        return Q(**{f"{person}phone_hash": search.hash})
    return Q(pk__in=[])


def person_search_remember(request, search: PersonSearch, *, changelist: str) -> str:
    """Keeps the search in the session under a new random token, for TTL_SECONDS; returns the token."""
    now = time.time()
    kept = {
        token: entry
        for token, entry in (request.session.get(_SESSION_KEY) or {}).items()
        if entry.get("until", 0) > now
    }
    token = secrets.token_urlsafe(16)
    kept[token] = {**asdict(search), "list": changelist, "until": now + TTL_SECONDS}
    newest = sorted(kept.items(), key=lambda item: item[1]["until"])[-_KEEP:]
    request.session[_SESSION_KEY] = dict(newest)
    return token


def person_search_recall(request, token: str | None, *, changelist: str) -> PersonSearch | None:
    """The search kept under `token` for this list, if it has not expired."""
    entry = (request.session.get(_SESSION_KEY) or {}).get(token or "")
    if not entry or entry.get("list") != changelist or entry.get("until", 0) <= time.time():
        return None
    return PersonSearch(entry["kind"], hash=entry["hash"], text=entry["text"], shown=entry["shown"])


# --- Admin ---------------------------------------------------------------------------------------------------


class PersonSearchFilter(admin.SimpleListFilter):
    """The person found by a posted search (`?ps=<token>`); "All" ends the search."""

    title = _("person searched for")
    parameter_name = PARAM

    def lookups(self, request, model_admin):
        self.search = model_admin.person_search_recall(request) if self.value() else None
        if not self.value():
            return []
        return [(self.value(), self.search.label if self.search else _("search expired"))]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if self.search is None:
            return queryset.none()
        return queryset.filter(self.model_admin.person_search_filter(self.search))

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


class PersonSearchMixin:
    """For a ModelAdmin whose list finds people: the search box posts, and numbers never reach the address.

    `person_path` leads from the list's rows to the person ("" on people themselves); `person_search_kinds` are
    the kinds of number the list can match (masked numbers and last digits need the model's masked columns and
    an override of `person_search_filter`).
    """

    person_path = "person__"
    person_search_kinds: tuple[str, ...] = (Kind.ID_NUMBER, Kind.PHONE)
    change_list_template = "admin/person_search/change_list.html"

    @property
    def _changelist_label(self) -> str:
        return self.opts.label_lower

    def person_search_filter(self, search: PersonSearch) -> Q:
        return person_search_q(search, person=self.person_path)

    def person_search_recall(self, request) -> PersonSearch | None:
        return person_search_recall(request, request.GET.get(PARAM), changelist=self._changelist_label)

    def get_list_filter(self, request):
        return (PersonSearchFilter, *super().get_list_filter(request))

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_person_search"
        view = self.admin_site.admin_view(self.person_search_view)
        return [path("person-search/", view, name=name), *super().get_urls()]

    def is_public_text(self, term: str) -> bool:
        """Whether free text (not a code) is something other than a person's name, so it may go into `?q=`.
        Lists that search institutions by name say yes to part of an existing institution's name."""
        return False

    def _public(self, term: str) -> bool:
        return (
            bool(self.search_fields)
            and not is_personal(term)
            and (is_code(term) or self.is_public_text(term))
        )

    def get_search_results(self, request, queryset, search_term):
        if search_term.strip() and not self._public(search_term):
            # Typed into the address by hand: the number is in the logs already; do not reward it.
            self.message_user(request, self.person_search_refusal(), messages.WARNING)
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def person_search_refusal(self) -> str:
        if self.search_fields:
            return _(
                "Search by a code such as a serial number, or by a full ID number or mobile number in the search "
                "box. Names cannot be searched."
            )
        return _("Search by a full ID number or mobile number in the search box. Names cannot be searched.")

    def changelist_view(self, request, extra_context=None):
        token = request.GET.get(PARAM)
        search = self.person_search_recall(request) if token else None
        if token and search is None:
            self.message_user(request, _("That search has expired: search again."), messages.WARNING)
        extra_context = {
            # "Select 备案 to change" reads badly in Chinese, and reviewers change nothing here.
            "title": capfirst(self.opts.verbose_name_plural),
            **(extra_context or {}),
            "person_search": search,
            "person_search_minutes": TTL_SECONDS // 60,
        }
        return super().changelist_view(request, extra_context)

    def person_search_view(self, request):
        """Takes the posted term and sends the browser to the list, with a token (never the number) for a
        person's number or `?q=` for a code."""
        info = (self.opts.app_label, self.opts.model_name)
        changelist = reverse("admin:{}_{}_changelist".format(*info), current_app=self.admin_site.name)
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        kept = [
            (name, value)
            for name, value in request.POST.items()
            if name not in ("csrfmiddlewaretoken", SEARCH_VAR, PARAM, "p", "e")
        ]
        term = request.POST.get(SEARCH_VAR, "").strip()
        if not term:
            return HttpResponseRedirect(changelist + ("?" + urlencode(kept) if kept else ""))
        if not is_personal(term):
            if self._public(term):
                return HttpResponseRedirect(changelist + "?" + urlencode([*kept, (SEARCH_VAR, term)]))
            self.message_user(request, self.person_search_refusal(), messages.ERROR)
            return HttpResponseRedirect(changelist + ("?" + urlencode(kept) if kept else ""))
        search = person_search_parse(term)
        if search is None or search.kind not in self.person_search_kinds:
            self.message_user(request, self.search_help_text or self.person_search_refusal(), messages.ERROR)
            return HttpResponseRedirect(changelist + ("?" + urlencode(kept) if kept else ""))
        token = person_search_remember(request, search, changelist=self._changelist_label)
        self._person_search_audit(request, search)
        return HttpResponseRedirect(changelist + "?" + urlencode([*kept, (PARAM, token)]))

    @transaction.atomic
    def _person_search_audit(self, request, search: PersonSearch) -> None:
        found = self.get_queryset(request).filter(self.person_search_filter(search))
        people = sorted(
            set(found.values_list(f"{self.person_path}pk" if self.person_path else "pk", flat=True))
        )
        audit_record(
            actor=request.user,
            action="admin.person_search",
            target=request.user,
            data={
                "list": self._changelist_label,
                "by": search.kind,
                "found": len(people),
                "people": people[:50],
            },
        )
