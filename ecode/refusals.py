"""Why a code whose signature holds is still refused at a counter: one table of the check's facts, applied in
Python (``check_refusal``) and turned into the SQL of a verify's one statement (``check_refusal_case``), so
that the two cannot decide differently."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.choices import PersonStatus

from .models import CredentialStatus
from .verifier import EcodeErrorCode

OK = "ok"

# The facts of a check, once the code's credential was looked for: ``credential`` (its id, None when no
# credential has the code's member id), ``credential_status``, ``person_status`` and ``use`` (the code's
# recorded use, None when it was never used).
FACTS = ("credential", "credential_status", "person_status", "use")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Refuse with ``code`` when ``fact`` is ``missing``, ``present``, ``is`` ``value`` or ``is_not`` it."""

    fact: str
    test: str
    code: EcodeErrorCode
    value: str = ""

    def matches(self, facts: dict[str, Any]) -> bool:
        value = facts[self.fact]
        if self.test == "missing":
            return value is None
        if value is None:  # as in SQL, where a comparison with NULL is never true
            return False
        if self.test == "present":
            return True
        return (value == self.value) == (self.test == "is")


# In the order they are decided: the first row that matches refuses the code.
REFUSALS = (
    Refusal("credential", "missing", EcodeErrorCode.UNKNOWN_SUBJECT),
    Refusal("credential_status", "is", EcodeErrorCode.CREDENTIAL_REVOKED, CredentialStatus.REVOKED),
    Refusal("credential_status", "is", EcodeErrorCode.CREDENTIAL_SUSPENDED, CredentialStatus.SUSPENDED),
    # A person whose insurance is suspended or terminated cannot use the credential either.
    Refusal("person_status", "is_not", EcodeErrorCode.CREDENTIAL_SUSPENDED, PersonStatus.ACTIVE),
    # A code is used once: after its use it verifies as used (when, where), never as valid.
    Refusal("use", "present", EcodeErrorCode.ALREADY_USED),
)

_SQL_TESTS = {"missing": "{} IS NULL", "present": "{} IS NOT NULL", "is": "{} = %s", "is_not": "{} <> %s"}


def check_facts(credential, use=None) -> dict[str, Any]:
    """The facts of a check from the credential found (or None) and the code's recorded use (or None)."""
    if credential is None:
        return dict.fromkeys(FACTS)
    return facts_of(credential.pk, credential.status, credential.person.status, use)


def facts_of(credential_pk, credential_status, person_status, use) -> dict[str, Any]:
    """The facts of a check from the values a query read (``credential_pk`` None: no credential found)."""
    if credential_pk is None:
        return dict.fromkeys(FACTS)
    return dict(zip(FACTS, (credential_pk, credential_status, person_status, use), strict=True))


def check_refusal(facts: dict[str, Any]) -> str | None:
    """The refusal code the table gives for ``facts``; None if the code is accepted."""
    return next((str(rule.code) for rule in REFUSALS if rule.matches(facts)), None)


def sql_word(value: str) -> str:
    """A plain word (a status or an error code: lower-case letters and underscores) as an SQL literal, written
    into a statement instead of being a parameter: nothing to encode and bind per check."""
    if not value.replace("_", "").isalpha() or not value.isascii() or not value.islower():
        raise ValueError(f"not a plain word: {value!r}")
    return f"'{value}'"


def check_refusal_case(columns: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """A SQL CASE that decides as ``check_refusal`` does (``ok`` when no row matches), ``columns`` giving each
    fact's SQL expression, and its parameters in order (none: the table's values are plain words, written in
    as literals)."""
    whens = []
    for rule in REFUSALS:
        test = _SQL_TESTS[rule.test].replace("%s", sql_word(str(rule.value)) if rule.value else "%s")
        whens.append(f"WHEN {test.format(columns[rule.fact])} THEN {sql_word(str(rule.code))}")
    return f"CASE {' '.join(whens)} ELSE {sql_word(OK)} END", ()
