"""Checking a code at a counter and using it once: one statement reads the facts, one rule refuses."""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.choices import Role
from accounts.models import InsuredPerson
from core.cache import cache_call
from core.errors import CommonErrorCode, ServiceError
from core.fields import EncryptedTextField
from core.masking import mask_id_number, mask_name
from ecode.keys import (
    keyring,
    subject_hash,
    subject_keys,
)
from ecode.token import (
    CLOCK_SKEW,
    decrypt_subject,
    from_digits,
)
from ecode.verifier import VerificationError, verify
from filing.choices import CoverageReason
from filing.coverage import (
    Coverage,
    coverage_among,
    emergency_settles,
    filing_coverage,
    in_force_order,
    in_force_params,
    in_force_sql,
)
from filing.models import Filing, FilingInstitution
from notifications.services import notification_create
from reference.models import Region

from ..errors import EcodeErrorCode, EcodeServiceErrorCode, verification_message
from ..models import CodeEvent, CodeEventKind, Credential
from ..refusals import OK, check_facts, check_refusal, check_refusal_case, facts_of, sql_word

logger = logging.getLogger(__name__)


USED_MARKER_PREFIX = "ecode:used:"
_MEMBER_ID_BITS = 63  # fits PostgreSQL's signed bigint


@dataclass(frozen=True, slots=True)
class CodeUse:
    """A code's recorded use (its successful consume): the use id, when, and at which institution."""

    use_id: int
    at: datetime
    institution_id: int


@dataclass(frozen=True, slots=True)
class CheckedPerson:
    """The code's owner as a verify's statement read them (no model object on the hot path): the name and ID
    number decrypted, masked as the model masks them (``core.masking``)."""

    pk: int
    name: str
    id_number: str
    status: str
    scheme: str
    insured_region_id: str

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


@dataclass(frozen=True)
class VerificationResult:
    """What a counter learns from one scan; ``code`` is ``ok`` or an e-code error code."""

    valid: bool
    code: str
    message: str
    kind: str
    event_id: int | None = None
    institution: Any = None
    # The code's owner: the model, or for a verify on PostgreSQL a CheckedPerson read from its statement's row.
    person: Any = None
    masked_name: str = ""
    masked_id_number: str = ""
    insured_region_code: str = ""
    insured_region_name: str = ""
    scheme: str = ""
    # filing.coverage.Coverage for this institution today (None when the person was not identified).
    coverage: Any = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    # The filing flag the code carried when it was issued.
    claims_filing_in_force: bool | None = None
    replayed: bool = False
    # For ``already_used``: the code's use, when the record of it was found (a use a moment ago by a concurrent
    # counter may not be committed yet).
    prior_use: CodeUse | None = None
    # When the check was made (and recorded).
    checked_at: datetime | None = None
    # Whether a use as an emergency is accepted and settled here (it is treated as filed).
    emergency_possible: bool = False

    @property
    def use_id(self) -> int | None:
        """The id a settlement refers to: set only for a successful consume."""
        return self.event_id if self.valid and self.kind == CodeEventKind.CONSUME else None

    @property
    def settlement_here(self) -> bool:
        """Whether the bill can be settled directly at this institution: an accepted code of a person with a
        filing in force here (an emergency use without one is settled as an emergency)."""
        return self.valid and bool(getattr(self.coverage, "applies", False))

    @property
    def emergency(self) -> bool:
        """A use accepted only as an emergency (no filing in force here: the bill is settled as one)."""
        return self.use_id is not None and self.coverage is not None and not self.coverage.applies

    @property
    def used_here(self) -> bool:
        """Whether the code's recorded use was at this institution (what else a counter may see of it)."""
        here = getattr(self.institution, "pk", None)
        return self.prior_use is not None and self.prior_use.institution_id == here


def _counter_institution(operator):
    if getattr(operator, "role", None) != Role.COUNTER or not operator.institution_id:
        raise ServiceError(
            EcodeServiceErrorCode.NOT_A_COUNTER, _("Only counter operators can check e-codes."), status=403
        )
    institution = operator.institution
    if not institution.active:
        raise ServiceError(
            EcodeServiceErrorCode.INSTITUTION_INACTIVE, _("The institution is not active."), status=403
        )
    return institution


# What a check reads of the person: no phone or email is loaded (nor decrypted) for it.
_CHECK_PERSON_FIELDS = ("id", "user", "name", "id_number", "status", "scheme", "insured_region")


@lru_cache(maxsize=2)
def _check_person_fields(whole_person: bool) -> tuple:
    # In the model's order, which Model.from_db expects of a partial row.
    fields = InsuredPerson._meta.concrete_fields
    return tuple(fields if whole_person else (f for f in fields if f.name in _CHECK_PERSON_FIELDS))


# What a verify reads of each filing in force (then whether the counter's institution is picked on it).
_CHECK_FILING_FIELDS = ("id", "group", "destination", "start_date", "end_date", "pick_required")


@lru_cache(maxsize=1)
def _check_filing_fields() -> tuple:
    # In the model's order, which Model.from_db expects of a partial row.
    return tuple(f for f in Filing._meta.concrete_fields if f.name in _CHECK_FILING_FIELDS)


def _subject_candidates(block: bytes) -> dict[int, bytes]:
    """The member ids a subject block may name, each with the subject key that names it: its decryption under
    each key in use (one, two during a rotation), leaving out values no credential can have. A code's subject
    is hashed under the key it was made under, so that it keeps one hash across a rotation."""
    candidates: dict[int, bytes] = {}
    for key in subject_keys():
        member_id = decrypt_subject(key, block)[0]
        if not member_id >> _MEMBER_ID_BITS:
            candidates.setdefault(member_id, key)
    return candidates


def _one_use_condition(alias: str) -> str:
    """The condition of the one-use index (``ecode_one_use_per_code``) in SQL, as the index has it: written in
    (not as parameters) so that the planner of a prepared statement can prove the index applies."""
    meta = CodeEvent._meta
    condition = next(c for c in meta.constraints if c.name == "ecode_one_use_per_code").condition
    terms = []
    for child in condition.children:
        # Equalities of a field with a plain word, joined by AND: anything else must be written here first.
        name, value = child if isinstance(child, tuple) else (None, None)
        if (
            condition.connector != "AND"
            or condition.negated
            or not (isinstance(value, str) and value.isidentifier())
        ):
            raise RuntimeError("ecode_one_use_per_code changed: update _one_use_condition")
        terms.append(f"{alias}.\"{meta.get_field(name).column}\" = '{value}'")
    return " AND ".join(terms)


@lru_cache(maxsize=8)
def _check_sql(whole_person: bool, vendor: str, candidates: int = 1) -> str:
    """The one query of a check: the person and credential of a member id, their filings in force, and the
    code's recorded use.

    A use (``whole_person``) asks only whether any filing is in force, and leaves the rest to the filing
    selector. A verify takes each filing in force with whether the counter's institution is picked on it, so
    that ``filing.coverage.coverage_among`` decides without another query. ``candidates`` member ids are
    looked for at once (two during a subject-key rotation), and the code's use under each one's subject hash,
    in the one-use index (``check_use``: its id, time and institution, as a JSON array). Written as SQL because
    on the hot path the ORM's compilation of the same join and subqueries costs more than running them. Only
    identifiers from model metadata are formatted in; every value is a query parameter (see ``_check_params``).
    """
    person, credential, filing, pick = (
        InsuredPerson._meta,
        Credential._meta,
        Filing._meta,
        FilingInstitution._meta,
    )
    fields = _check_person_fields(whole_person)
    pk = person.pk.column
    in_force = (  # the filing app's own condition (filing.coverage.in_force_sql), not a copy
        f' FROM "{filing.db_table}" f WHERE f."{filing.get_field("person").column}" = p."{pk}"'
        f" AND {in_force_sql('f')}"
    )
    if whole_person:
        filings = f"EXISTS (SELECT 1{in_force})"
    else:
        picked = (
            f'EXISTS (SELECT 1 FROM "{pick.db_table}" fi WHERE fi."{pick.get_field("filing").column}"'  # noqa: S608
            f' = f."{filing.pk.column}" AND fi."{pick.get_field("institution").column}" = %s)'
        )
        values = ", ".join(f'f."{field.column}"' for field in _check_filing_fields())
        if vendor == "postgresql":
            filings = f"(SELECT json_agg(json_build_array({values}, {picked})){in_force})"
        else:  # SQLite, the embedded default
            filings = f"(SELECT json_group_array(json_array({values}, {picked})){in_force})"
    event = CodeEvent._meta
    use_values = ", ".join(
        f'u."{event.get_field(name).column}"' for name in ("id", "created_at", "institution")
    )
    array = "json_build_array" if vendor == "postgresql" else "json_array"
    use = (
        f'(SELECT {array}({use_values}) FROM "{event.db_table}" u'  # noqa: S608
        f' WHERE u."{event.get_field("subject").column}" IN ({", ".join(["%s"] * candidates)})'
        f" AND {_one_use_condition('u')} LIMIT 1)"
    )
    member_id = credential.get_field("member_id").column
    return (
        "SELECT " + ", ".join(f'p."{field.column}"' for field in fields) + ","  # noqa: S608
        f' c."{credential.pk.column}" AS credential_pk, c."{credential.get_field("status").column}"'
        f' AS credential_status, c."{member_id}" AS credential_member_id, {filings} AS check_filings,'
        f" {use} AS check_use"
        f' FROM "{person.db_table}" p JOIN "{credential.db_table}" c'
        f' ON c."{credential.get_field("person").column}" = p."{pk}"'
        f' WHERE c."{member_id}" IN ({", ".join(["%s"] * candidates)}) LIMIT 1'
    )


def _check_params(subjects: dict[int, str], on_date, institution=None) -> tuple:
    """The parameters of ``_check_sql``; ``subjects``: each candidate member id's subject hash."""
    picked = () if institution is None else (institution.pk,)
    return (*picked, *in_force_params(on_date), *subjects.values(), *subjects)


# What a verify's statement knows of each fact of ``ecode.refusals`` (the columns of ``_check_sql`` as ``c``).
_CHECK_FACT_COLUMNS = {
    "credential": "c.credential_pk",
    "credential_status": "c.credential_status",
    "person_status": f'c."{InsuredPerson._meta.get_field("status").column}"',
    "use": "c.check_use",
}


@lru_cache(maxsize=1)
def _refusal_case() -> tuple[str, tuple[str, ...]]:
    """The refusal table as the SQL CASE of a verify's statement, and its parameters."""
    return check_refusal_case(_CHECK_FACT_COLUMNS)


# The columns of a verify's record, in the order _verify_recorded_sql inserts them.
_EVENT_FIELDS = (
    "created_at",
    "kind",
    "result",
    "credential",
    "person",
    "institution",
    "operator",
    "api_key_prefix",
    "request_no",
    "subject",
    "kid",
    "token_iat",
)


@lru_cache(maxsize=8)
def _verify_recorded_sql(candidates: int, async_commit: bool) -> str:
    """A verify on PostgreSQL in one statement: the check's query, and the insert of its CodeEvent with the
    result decided from what the query found by the table of ``ecode.refusals``, as ``check_refusal`` decides
    in Python (the parameters are in ``_verify_recorded_params``; the table's words and the event's kind are
    written in as literals by ``ecode.refusals.sql_word``, which takes plain words only). With ``async_commit`` (a statement that is
    its own transaction) the commit does not wait for the WAL to reach the disk: a crash of the database
    server could lose the checks of its last fraction of a second, never half of one, and never a use
    (``consume`` commits synchronously).
    """
    event, person = CodeEvent._meta, InsuredPerson._meta
    if {field.name for field in event.concrete_fields if not field.primary_key} != set(_EVENT_FIELDS):
        raise RuntimeError("CodeEvent's fields changed: update _EVENT_FIELDS and _verify_recorded_sql")
    columns = ", ".join(f'"{event.get_field(name).column}"' for name in _EVENT_FIELDS)
    result = event.get_field("result").column
    decided = _refusal_case()[0]
    # The subject's hash under the key that names the member found (see _subject_candidates).
    whens = "WHEN %s THEN %s " * candidates
    subject = "%s" if candidates == 1 else f"CASE c.credential_member_id {whens}ELSE %s END"
    commit = ", set_config('synchronous_commit', 'off', true)" if async_commit else ""
    return (
        f"WITH c AS ({_check_sql(False, 'postgresql', candidates)}),"  # noqa: S608
        f' e AS (INSERT INTO "{event.db_table}" ({columns})'
        f" SELECT %s, {sql_word(CodeEventKind.VERIFY)}, {decided}, c.credential_pk,"
        f' c."{person.pk.column}", %s, %s, %s, %s, {subject}, %s, %s'
        f' FROM (SELECT 1) AS one LEFT JOIN c ON TRUE RETURNING "{event.pk.column}", "{result}")'
        f' SELECT c.*, e."{event.pk.column}", e."{result}"{commit} FROM e LEFT JOIN c ON TRUE'
    )


def _verify_recorded_params(draft: dict[str, Any], subjects: dict[int, str], on_date) -> tuple:
    """The parameters of ``_verify_recorded_sql``: ``draft`` the record's fields (as ``_check`` gathers them),
    ``subjects`` each candidate member id's subject hash."""
    if len(subjects) == 1:
        subject = tuple(subjects.values())
    else:  # CASE member id WHEN ... THEN its hash ... ELSE the current key's
        subject = (*(value for pair in subjects.items() for value in pair), draft["subject"])
    institution = draft["institution"]
    return (
        *_check_params(subjects, on_date, institution),
        draft["created_at"],
        *_refusal_case()[1],
        institution.pk,
        draft["operator"].pk,
        draft["api_key_prefix"],
        draft["request_no"],
        *subject,
        draft["kid"],
        draft["token_iat"],
    )


def _filings_of_column(value) -> tuple[list[Filing], set[int]]:
    """The filings in force that a verify's query found (in ``in_force_order``), and the ids of those on which
    the counter's institution is picked."""
    rows = json.loads(value) if isinstance(value, str) else value or []  # JSON text on SQLite
    fields = _check_filing_fields()
    filings, picked = [], set()
    for row in rows:
        values = [field.to_python(item) for field, item in zip(fields, row, strict=False)]  # dates from text
        filing = Filing.from_db(connection.alias, [field.attname for field in fields], values)
        region = _region(filing.destination_id)
        if region is not None:  # (a region is never deleted; else the name is read when asked)
            filing.destination = region
        filings.append(filing)
        if row[len(fields)]:
            picked.add(filing.pk)
    return in_force_order(filings), picked


def _person_of_row(row: tuple, fields) -> InsuredPerson:
    # The check's person straight from its row: only the encrypted fields need converting (decrypting).
    values = [
        field.from_db_value(value, None, connection) if isinstance(field, EncryptedTextField) else value
        for field, value in zip(fields, row, strict=False)  # the row goes on with the credential
    ]
    return InsuredPerson.from_db(connection.alias, [field.attname for field in fields], values)


@lru_cache(maxsize=1)
def _checked_person_columns() -> tuple[int, ...]:
    # Where CheckedPerson's fields are in a verify's row (the person's columns come first, in model order).
    names = [field.name for field in _check_person_fields(False)]
    return tuple(
        names.index(name) for name in ("id", "name", "id_number", "status", "scheme", "insured_region")
    )


def _checked_person(row: tuple, fields) -> CheckedPerson:
    """The check's person from its row as values: the encrypted fields decrypted by their model field."""
    pk, name, id_number, status, scheme, region = (row[i] for i in _checked_person_columns())
    name_field, number_field = (fields[i] for i in _checked_person_columns()[1:3])
    return CheckedPerson(
        pk=pk,
        name=name_field.from_db_value(name, None, connection),
        id_number=number_field.from_db_value(id_number, None, connection),
        status=status,
        scheme=scheme,
        insured_region_id=region,
    )


def _use_of_column(value) -> CodeUse | None:
    """The code's recorded use from the check's ``check_use`` column (JSON text on SQLite)."""
    if value is None:
        return None
    use_id, at, institution_id = json.loads(value) if isinstance(value, str) else value
    at = parse_datetime(at)
    if timezone.is_naive(at):  # SQLite keeps UTC without an offset
        at = at.replace(tzinfo=UTC)
    return CodeUse(use_id, at, institution_id)


# The columns of a verify's row after the person's: the credential's id, status and member id, the filings in
# force and the code's use (then, from _verify_recorded_sql, the event's id and result).
_CHECK_COLUMNS = 5


def _credential_of_row(row: tuple) -> Credential:
    """A verify's credential from its query's row: the person loaded, ``filings`` in force, ``picked_here``
    (the ids of those on which the counter's institution is picked), ``any_filing`` and ``use`` (the code's
    recorded use, or None)."""
    fields = _check_person_fields(False)
    person = _person_of_row(row, fields)
    credential_pk, status, member_id, filings, use = row[len(fields) : len(fields) + _CHECK_COLUMNS]
    credential = Credential.from_db(
        connection.alias,
        ["id", "person_id", "member_id", "status"],
        [credential_pk, person.pk, member_id, status],
    )
    credential.person = person
    credential.filings, credential.picked_here = _filings_of_column(filings)
    credential.any_filing = bool(credential.filings)
    credential.use = _use_of_column(use)
    return credential


def _credential_for_subject(
    subjects: dict[int, str], *, on_date, whole_person: bool = False, institution=None
) -> Credential | None:
    """The credential of one of the member ids of ``subjects`` (each with its subject hash), its person
    loaded, ``any_filing``: whether the person has a filing in force on ``on_date``, and ``use``: the code's
    recorded use, or None. ``whole_person`` loads every field of the person (for a use); else as
    ``_credential_of_row`` (for a verify, where PostgreSQL takes ``_verify_recorded`` instead)."""
    if not subjects:
        return None
    sql = _check_sql(whole_person, connection.vendor, len(subjects))
    if not whole_person:  # a plain cursor spares the raw queryset's machinery
        with connection.cursor() as cursor:
            cursor.execute(sql, _check_params(subjects, on_date, institution))
            row = cursor.fetchone()
        return None if row is None else _credential_of_row(row)
    # A use: the whole person, through the ORM (dates and all converted).
    person = next(iter(InsuredPerson.objects.raw(sql, _check_params(subjects, on_date))), None)
    if person is None:
        return None
    credential = Credential.from_db(
        connection.alias,
        ["id", "person_id", "member_id", "status"],
        [person.credential_pk, person.pk, person.credential_member_id, person.credential_status],
    )
    credential.person = person
    credential.any_filing = bool(person.check_filings)
    credential.use = _use_of_column(person.check_use)
    return credential


def _credential_refusal(credential: Credential | None) -> str | None:
    """Why a code whose signature holds is still refused, from its credential and the code's recorded use
    (``credential.use``); None if it is not. The table of ``ecode.refusals`` decides."""
    return check_refusal(check_facts(credential, getattr(credential, "use", None)))


@lru_cache(maxsize=1)
def _regions() -> dict[str, Region]:
    # Regions are reference data loaded by migration; reading them once per process keeps a join off every check.
    return {region.code: region for region in Region.objects.select_related("parent")}


def _region(code: str) -> Region | None:
    region = _regions().get(code)
    if region is None:
        _regions.cache_clear()
        region = _regions().get(code)
    return region


def _region_name(code: str) -> str:
    region = _region(code)
    return region.full_name if region is not None else code


def _coverage(person, institution, on_date, *, any_filing: bool = True) -> Coverage:
    if not any_filing:  # the credential query already found no filing in force: spare the selector's query
        return Coverage(None, False, CoverageReason.NO_FILING.value)
    return filing_coverage(person=person, institution=institution, on_date=on_date)


def _subject_of_text(text: str) -> str:
    try:
        return subject_hash(from_digits(text.strip())[10:26])
    except ValueError:
        return ""


def _save_event(event: CodeEvent) -> None:
    # Inside a caller's transaction a failed insert must not poison it; in autocommit it needs no savepoint.
    if connection.in_atomic_block:
        with transaction.atomic():
            event.save(force_insert=True)
    else:
        event.save(force_insert=True)


def _clock(when: datetime) -> str:
    # A code lives two minutes: the time of day (in Asia/Shanghai) says when it was used.
    return timezone.localtime(when).strftime("%H:%M:%S")


def _message(code: str, kind: str, institution_id: int, coverage, use: CodeUse | None) -> str:
    """What the counter reads: what happened, and what to do next."""
    if code == OK and kind == CodeEventKind.CONSUME:
        if coverage is not None and not coverage.applies:
            return _(
                "The e-code is used as an emergency: settle the bill as an emergency, with the use number."
            )
        return _("The e-code is used: settle the bill with the use number.")
    if code == OK:
        if coverage is not None and not coverage.applies:
            return _("The e-code is valid, but there is no direct settlement here. %(reason)s.") % {
                "reason": coverage.message
            }
        return _("The e-code is valid.")
    if code == EcodeErrorCode.ALREADY_USED and use is not None:
        if use.institution_id == institution_id:
            return _(
                "This e-code was already used here at %(time)s (use number %(use_id)s) and cannot be used "
                "again. Settle the bill with that use number."
            ) % {"time": _clock(use.at), "use_id": use.use_id}
        return _(
            "This e-code was already used at another institution at %(time)s and cannot be used again. Ask "
            "the insured person to show a new one."
        ) % {"time": _clock(use.at)}
    if code == EcodeErrorCode.NOT_COVERED and coverage is not None:
        return _("The e-code was not used: there is no direct settlement here. %(reason)s.") % {
            "reason": coverage.message
        }
    return verification_message(code)


def _result(
    event: CodeEvent, *, verified=None, coverage=None, replayed: bool = False, use: CodeUse | None = None
) -> VerificationResult:
    return _answer(
        code=event.result,
        kind=event.kind,
        event_id=event.pk,
        institution=event.institution,
        person=event.person if event.person_id else None,
        checked_at=event.created_at,
        token_iat=event.token_iat,
        verified=verified,
        coverage=coverage,
        replayed=replayed,
        use=use,
    )


def _answer(
    *,
    code: str,
    kind: str,
    event_id: int | None,
    institution,
    person,
    checked_at: datetime | None,
    token_iat: datetime | None,
    verified=None,
    coverage=None,
    replayed: bool = False,
    use: CodeUse | None = None,
) -> VerificationResult:
    """The result of a recorded check (``event_id``), from what it found: ``person`` (a model or a
    CheckedPerson; None when no credential was found), ``coverage`` and the code's recorded ``use``."""
    valid = code == OK
    message = _message(code, kind, institution.pk, coverage, use)
    fields: dict[str, Any] = {}
    if person is not None and valid:
        fields = {
            "masked_name": person.masked_name,
            "masked_id_number": person.masked_id_number,
            "insured_region_code": person.insured_region_id,
            "insured_region_name": _region_name(person.insured_region_id),
            "scheme": person.scheme,
            "coverage": coverage,
        }
    elif code == EcodeErrorCode.NOT_COVERED:  # why the use was refused
        fields["coverage"] = coverage
    if person is not None and coverage is not None:
        fields["emergency_possible"] = emergency_settles(coverage, person=person, institution=institution)
    if verified is not None:
        fields["issued_at"] = datetime.fromtimestamp(verified.iat, UTC)
        fields["expires_at"] = datetime.fromtimestamp(verified.expires_at, UTC)
        fields["claims_filing_in_force"] = verified.filing_in_force
    elif token_iat is not None:
        fields["issued_at"] = token_iat
    return VerificationResult(
        valid=valid,
        code=code,
        message=message,
        kind=kind,
        event_id=event_id,
        institution=institution,
        person=person if valid else None,
        replayed=replayed,
        prior_use=use if code == EcodeErrorCode.ALREADY_USED else None,
        checked_at=checked_at,
        **fields,
    )


def _recorded_use(subjects) -> CodeUse | None:
    """The recorded use of the code whose subject hash is one of ``subjects``, or None."""
    row = (
        CodeEvent.objects.filter(subject__in=subjects, kind=CodeEventKind.CONSUME, result=OK)
        .values_list("pk", "created_at", "institution_id")
        .first()
    )
    return None if row is None else CodeUse(*row)


def _replay(event: CodeEvent, *, kind: str, subject: str | frozenset[str], on_date) -> VerificationResult:
    """The stored answer to a request number seen before, if it was the same request (the same kind of check
    of the same code, ``subject`` being its hash, or the hashes it may have during a subject-key rotation);
    else a conflict."""
    subjects = {subject} if isinstance(subject, str) else subject
    prior = (
        CodeEvent.objects.select_related("institution", "person", "credential")
        .filter(institution=event.institution, request_no=event.request_no)
        .first()
    )
    if prior is None or prior.kind != kind or prior.subject not in subjects:
        raise ServiceError(
            EcodeServiceErrorCode.DUPLICATE_REQUEST_NO,
            _("This request number was already used for another request."),
            fields={"request_no": [_("This request number was already used for another request.")]},
            status=409,
        )
    coverage = use = None
    if prior.person_id and prior.result in (OK, EcodeErrorCode.NOT_COVERED):
        coverage = _coverage(prior.person, prior.institution, on_date)
    elif prior.result == EcodeErrorCode.ALREADY_USED:
        use = _recorded_use(subjects)
    return _result(prior, coverage=coverage, replayed=True, use=use)


def _record(
    event: CodeEvent, code: str, *, verified=None, coverage=None, on_date=None, use: CodeUse | None = None
) -> VerificationResult:
    event.result = code
    try:
        _save_event(event)
    except IntegrityError:
        if not event.request_no:
            raise
        return _replay(event, kind=event.kind, subject=event.subject, on_date=on_date)
    return _result(event, verified=verified, coverage=coverage, use=use)


def _check(
    *,
    kind: str,
    token: str,
    operator,
    request_no: str | None,
    now: datetime | None,
    api_key,
    institution_code,
    emergency: bool = False,
) -> VerificationResult:
    institution = _counter_institution(operator)
    now = now or timezone.now()
    today = timezone.localdate(now)
    request_no = (request_no or "").strip()
    if len(request_no) > 64:
        message = _("The request number is at most 64 characters.")
        raise ServiceError(CommonErrorCode.INVALID, message, fields={"request_no": [message]})
    text = token if isinstance(token, str) else ""
    # The record of the check, as CodeEvent's fields (a verify on PostgreSQL inserts them without a model).
    draft: dict[str, Any] = {
        "kind": kind,
        "institution": institution,
        "operator": operator,
        "created_at": now,
        "request_no": request_no,
        "api_key_prefix": getattr(api_key, "prefix", "") or "",
    }
    if institution_code and institution_code != institution.code:
        event = CodeEvent(**draft, subject=_subject_of_text(text))
        return _record(event, EcodeErrorCode.WRONG_INSTITUTION, on_date=today)

    try:
        verified = verify(text, keyring().keyset_at(now), now=now.timestamp())
    except VerificationError as exc:
        event = CodeEvent(**draft, subject=_subject_of_text(text))
        return _record(event, exc.code.value, on_date=today)
    draft.update(
        subject=subject_hash(verified.subject),
        kid=verified.kid,
        token_iat=datetime.fromtimestamp(verified.iat, UTC),
    )

    # The subject's hash under each key that may have made it (see _subject_candidates).
    subjects = {
        member_id: subject_hash(verified.subject, key=key)
        for member_id, key in _subject_candidates(verified.subject).items()
    }
    if kind == CodeEventKind.VERIFY and subjects and connection.vendor == "postgresql":
        return _verify_recorded(draft, verified, subjects, on_date=today)
    event = CodeEvent(**draft)
    credential = _credential_for_subject(
        subjects, on_date=today, whole_person=kind == CodeEventKind.CONSUME, institution=institution
    )
    if credential is not None:
        event.credential, event.person = credential, credential.person
        event.subject = subjects[credential.member_id]
    refusal = _credential_refusal(credential)
    if refusal is not None:
        use = getattr(credential, "use", None)
        return _record(event, refusal, verified=verified, on_date=today, use=use)
    if kind == CodeEventKind.VERIFY:  # the check's own query found the filings in force and the picks here
        return _record(
            event,
            OK,
            verified=verified,
            coverage=_coverage_here(credential.filings, credential.picked_here, institution),
            on_date=today,
        )
    coverage = _coverage(credential.person, institution, today, any_filing=credential.any_filing)
    # A use that cannot be settled here would burn the code for nothing: refused, unless the counter says it is
    # an emergency where one is settled as filed (as settlement.services.settlement_create does).
    if not (
        coverage.applies
        or (emergency and emergency_settles(coverage, person=credential.person, institution=institution))
    ):
        return _record(event, EcodeErrorCode.NOT_COVERED, verified=verified, coverage=coverage, on_date=today)
    return _consume(event, verified=verified, coverage=coverage, now=now, today=today)


def _coverage_here(filings: list[Filing], picked: set[int], institution) -> Coverage:
    """Coverage here among the filings in force a check's query found, ``picked`` the ids of those on which
    the institution is picked (``filing.coverage.coverage_among`` decides)."""
    return coverage_among(filings, institution, picked_here=lambda _here: picked)


def _verify_recorded(
    draft: dict[str, Any], verified, subjects: dict[int, str], *, on_date
) -> VerificationResult:
    """A verify on PostgreSQL: one statement finds the credential and the code's use and records the check
    (one round trip, and the check is in the person's history as soon as the counter has its answer);
    ``draft``: the record's fields, ``subjects``: each candidate member id's subject hash. The row is read as
    values (no model objects): the person as a CheckedPerson, the facts into ``ecode.refusals``' table."""
    in_transaction = connection.in_atomic_block
    sql = _verify_recorded_sql(len(subjects), not in_transaction)
    try:
        # Inside a caller's transaction a refused insert must not poison it.
        with transaction.atomic() if in_transaction else nullcontext(), connection.cursor() as cursor:
            cursor.execute(sql, _verify_recorded_params(draft, subjects, on_date))
            row = cursor.fetchone()
    except IntegrityError:
        if not draft["request_no"]:
            raise
        return _replay(
            CodeEvent(**draft),
            kind=draft["kind"],
            subject=frozenset({draft["subject"], *subjects.values()}),
            on_date=on_date,
        )
    fields = _check_person_fields(False)
    width = len(fields) + _CHECK_COLUMNS
    event_id, recorded = row[width], row[width + 1]
    institution = draft["institution"]
    credential_pk, status, _member_id, filings, use_column = row[len(fields) : width]
    use = _use_of_column(use_column)
    person = None if credential_pk is None else _checked_person(row, fields)
    decided = check_refusal(facts_of(credential_pk, status, getattr(person, "status", None), use)) or OK
    if decided != recorded:  # the statement decides by the same table; the tests hold them so
        logger.error("verify %s recorded %s where the service decides %s", event_id, recorded, decided)
    coverage = None
    if recorded == OK and person is not None:
        coverage = _coverage_here(*_filings_of_column(filings), institution)
    return _answer(
        code=recorded,
        kind=draft["kind"],
        event_id=event_id,
        institution=institution,
        person=person,
        checked_at=draft["created_at"],
        token_iat=draft["token_iat"],
        verified=verified,
        coverage=coverage,
        use=use,
    )


def _consume(event: CodeEvent, *, verified, coverage, now: datetime, today) -> VerificationResult:
    # Redis SET NX decides the race between counters; the partial unique index backs it up if Redis forgets,
    # and decides alone while Redis is away (the marker then counts as set by nobody).
    marker = USED_MARKER_PREFIX + event.subject
    remaining = verified.expires_at + CLOCK_SKEW - int(now.timestamp()) + 1
    if not cache_call(
        lambda: cache.add(marker, event.institution.code, timeout=max(remaining, 1)),
        fallback=True,
        what="e-code use marker",
    ):
        return _record(event, EcodeErrorCode.ALREADY_USED, verified=verified, on_date=today)
    institution = event.institution
    event.result = OK
    try:
        with transaction.atomic():
            event.save(force_insert=True)
            notification_create(
                person=event.person,
                event="ecode_used",
                context={
                    "institution_name": institution.name,
                    "institution_code": institution.code,
                    "used_at": now.isoformat(),
                    "scene": institution.kind,
                },
            )
    except IntegrityError:
        event.pk = None
        if (
            event.request_no
            and CodeEvent.objects.filter(institution=institution, request_no=event.request_no).exists()
        ):
            _forget_marker(marker)  # this code was not used after all
            return _replay(event, kind=event.kind, subject=event.subject, on_date=today)
        return _record(event, EcodeErrorCode.ALREADY_USED, verified=verified, on_date=today)
    except BaseException:
        _forget_marker(marker)
        raise
    return _result(event, verified=verified, coverage=coverage)


def _forget_marker(marker: str) -> None:
    cache_call(lambda: cache.delete(marker), fallback=None, what="e-code use marker")


def ecode_verify(
    *,
    token: str,
    operator,
    request_no: str | None = None,
    now: datetime | None = None,
    api_key=None,
    institution_code: str | None = None,
) -> VerificationResult:
    """Check a scanned code for the operator's institution and record the check; the code stays usable.

    Raises ServiceError only when the operator may not check codes (or a request number is reused for
    another request); every refusal of the code itself is a result with ``valid=False``, recorded too.
    """
    return _check(
        kind=CodeEventKind.VERIFY,
        token=token,
        operator=operator,
        request_no=request_no,
        now=now,
        api_key=api_key,
        institution_code=institution_code,
    )


def ecode_consume(
    *,
    token: str,
    operator,
    request_no: str | None = None,
    now: datetime | None = None,
    api_key=None,
    institution_code: str | None = None,
    emergency: bool = False,
) -> VerificationResult:
    """Check a scanned code and use it for settlement, once: of concurrent uses exactly one succeeds and the
    others get ``already_used``. The result's ``use_id`` is what the settlement refers to.

    A person with no filing in force here is refused (``not_covered``, the code stays unused), unless
    ``emergency``: an emergency is treated as filed where the filing app says so
    (``filing.coverage.emergency_settles``), and its bill is then settled as an emergency.
    """
    return _check(
        kind=CodeEventKind.CONSUME,
        token=token,
        operator=operator,
        request_no=request_no,
        now=now,
        api_key=api_key,
        institution_code=institution_code,
        emergency=emergency,
    )
