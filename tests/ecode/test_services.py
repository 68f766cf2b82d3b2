import base64
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.choices import PersonStatus
from accounts.models import InsuredPerson
from core.audit import audit_history
from core.errors import ServiceError
from ecode.keys import private_key_open, subject_key
from ecode.models import CodeEvent, Credential, CredentialStatus, SigningKey, SigningKeyStatus
from ecode.selectors import code_event_for_settlement, code_events_for_person
from ecode.services import (
    credential_activate,
    credential_reinstate,
    credential_revoke,
    credential_suspend,
    ecode_consume,
    ecode_verify,
    signing_key_revoke,
    signing_key_rotate,
    token_issue,
    token_issue_for_person,
)
from ecode.token import CLOCK_SKEW, TOKEN_DIGITS, Token, decrypt_subject, from_digits
from notifications.models import Notification
from tests.factories import person_factory

from .factories import counter, credential_factory, filed_at, forged_token

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def credential():
    return credential_factory(name="张三明", insured_region="510100")


@pytest.fixture
def operator():
    operator, _key = counter(region_code="110000")
    return operator


@pytest.fixture
def covered(credential, operator):
    """The credential's person has a filing in force for the operator's area: a use there settles."""
    return filed_at(credential.person, operator)


def fields(token: str) -> Token:
    return Token.from_bytes(from_digits(token))


# --- Activation and the credential's life ---


def test_activation_creates_a_random_member_id_unrelated_to_the_id_number():
    person = person_factory()
    credential = credential_activate(person=person, actor=person.user)
    assert credential.status == CredentialStatus.ACTIVE
    assert 0 < credential.member_id < 1 << 63
    assert str(credential.member_id) not in person.id_number
    other = credential_activate(person=person_factory(), actor=None)
    assert other.member_id != credential.member_id
    assert [e.action for e in audit_history(credential)] == ["ecode.activate"]
    assert Notification.objects.filter(person=person, event="ecode_activated").count() == 1


def test_second_activation_is_refused_as_already_activated(credential):
    with pytest.raises(ServiceError) as caught:
        credential_activate(person=credential.person, actor=None)
    assert caught.value.code == "already_activated"
    assert Credential.objects.filter(person=credential.person).count() == 1


@pytest.mark.parametrize("status", [PersonStatus.SUSPENDED, PersonStatus.TERMINATED])
def test_an_inactive_person_cannot_activate(status):
    person = person_factory()
    person.status = status
    person.save()
    with pytest.raises(ServiceError) as caught:
        credential_activate(person=person, actor=None)
    assert caught.value.code == "person_inactive"
    assert not Credential.objects.exists()


def test_suspend_reinstate_and_revoke_are_audited_and_suspension_is_notified(credential):
    credential_suspend(credential=credential, actor=None, reason="lost phone")
    assert credential.status == CredentialStatus.SUSPENDED and credential.suspended_reason == "lost phone"
    notice = Notification.objects.get(person=credential.person, event="ecode_suspended")
    assert notice.context == {"reason": "lost phone"}
    credential_reinstate(credential=credential, actor=None)
    assert Credential.objects.get(pk=credential.pk).status == CredentialStatus.ACTIVE
    credential_revoke(credential=credential, actor=None, reason="deceased")
    assert Credential.objects.get(pk=credential.pk).status == CredentialStatus.REVOKED
    history = [(e.action, e.from_state, e.to_state) for e in audit_history(credential)]
    assert history[1:] == [
        ("ecode.suspend", "active", "suspended"),
        ("ecode.reinstate", "suspended", "active"),
        ("ecode.revoke", "active", "revoked"),
    ]


def test_revoked_credential_cannot_be_reinstated_and_suspension_needs_a_reason(credential):
    with pytest.raises(ServiceError) as caught:
        credential_suspend(credential=credential, actor=None, reason="  ")
    assert caught.value.code == "invalid"
    credential_revoke(credential=credential, actor=None, reason="fraud")
    for call in (
        lambda: credential_reinstate(credential=credential, actor=None),
        lambda: credential_suspend(credential=credential, actor=None, reason="x"),
    ):
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.code == "invalid_transition"


# --- Issuing ---


def test_token_carries_region_scheme_and_lifetime(credential):
    now = timezone.now()
    issued = token_issue(credential=credential, now=now)
    assert len(issued.token) == TOKEN_DIGITS and issued.token.isdigit()
    token = fields(issued.token)
    assert token.region == "510100" and token.scheme == 1 and not token.filing_in_force
    assert token.iat == int(now.timestamp()) and token.lifetime == 120
    assert issued.expires_at - issued.issued_at == timedelta(seconds=120)
    assert issued.refresh_after - issued.issued_at == timedelta(seconds=30)
    assert decrypt_subject(subject_key(), token.subject)[0] == credential.member_id


def test_two_tokens_of_the_same_person_share_no_subject_bytes(credential):
    now = timezone.now()
    subjects = [fields(token_issue(credential=credential, now=now).token).subject for _ in range(64)]
    assert len(set(subjects)) == 64
    # Position by position the blocks agree only as often as random bytes do (1 in 256), so nothing in
    # them links two codes of one person; the member id never appears in clear.
    agreeing = sum(a == b for x, y in zip(subjects, subjects[1:]) for a, b in zip(x, y, strict=True))
    assert agreeing < 20  # expected 63 * 16 / 256 ≈ 4
    member = credential.member_id.to_bytes(8, "big")
    assert not any(member in subject for subject in subjects)


def test_no_token_without_activation_or_for_a_suspended_credential(credential):
    with pytest.raises(ServiceError) as caught:
        token_issue_for_person(person=person_factory())
    assert caught.value.code == "not_activated"
    credential_suspend(credential=credential, actor=None, reason="check")
    with pytest.raises(ServiceError) as caught:
        token_issue(credential=credential)
    assert caught.value.code == "credential_suspended"


# --- Verifying at a counter ---


def test_verify_identifies_the_person_masked_and_records_the_check(credential, operator):
    token = token_issue(credential=credential).token
    result = ecode_verify(token=token, operator=operator, request_no="R-1")
    assert result.valid and result.code == "ok"
    assert result.person.pk == credential.person.pk and result.use_id is None
    assert result.masked_name == "张*明"
    assert result.masked_id_number.startswith("510") and "*" in result.masked_id_number
    assert result.insured_region_code == "510100" and result.scheme == "employee"
    event = CodeEvent.objects.get(pk=result.event_id)
    assert (event.kind, event.result, event.institution, event.operator) == (
        "verify",
        "ok",
        operator.institution,
        operator,
    )
    assert event.person == credential.person and event.request_no == "R-1"
    assert token not in str(event.__dict__) and len(event.subject) == 32
    # A verification does not use the code.
    assert ecode_verify(token=token, operator=operator).valid


def test_unknown_subject_for_a_member_nobody_has(credential, operator):
    now = timezone.now()
    token = forged_token(member_id=credential.member_id + 1, iat=int(now.timestamp()))
    result = ecode_verify(token=token, operator=operator, now=now)
    assert (result.valid, result.code) == (False, "unknown_subject")
    assert CodeEvent.objects.get(pk=result.event_id).result == "unknown_subject"


def test_suspended_revoked_and_inactive_person_codes_are_refused(credential, operator):
    token = token_issue(credential=credential).token
    credential_suspend(credential=credential, actor=None, reason="check")
    assert ecode_verify(token=token, operator=operator).code == "credential_suspended"
    credential_reinstate(credential=credential, actor=None)
    person = credential.person
    person.status = PersonStatus.TERMINATED
    person.save()
    assert ecode_verify(token=token, operator=operator).code == "credential_suspended"
    credential_revoke(credential=credential, actor=None, reason="gone")
    result = ecode_verify(token=token, operator=operator)
    assert result.code == "credential_revoked" and result.person is None


@pytest.mark.parametrize("person_status", PersonStatus.values)
@pytest.mark.parametrize("credential_status", CredentialStatus.values)
def test_the_check_is_recorded_with_the_answer_the_counter_gets_in_every_state(
    credential, operator, credential_status, person_status, caplog
):
    # On PostgreSQL one statement reads the credential and records the check, deciding the result in SQL;
    # the record and the answer must agree for every state of the credential and the person.
    token = token_issue(credential=credential).token
    Credential.objects.filter(pk=credential.pk).update(status=credential_status)
    InsuredPerson.objects.filter(pk=credential.person_id).update(status=person_status)
    if credential_status == CredentialStatus.REVOKED:
        expected = "credential_revoked"
    elif credential_status == CredentialStatus.SUSPENDED or person_status != PersonStatus.ACTIVE:
        expected = "credential_suspended"
    else:
        expected = "ok"
    result = ecode_verify(token=token, operator=operator)
    assert (result.code, result.valid) == (expected, expected == "ok")
    event = CodeEvent.objects.get(pk=result.event_id)
    assert (event.result, event.credential_id, event.person_id) == (
        expected,
        credential.pk,
        credential.person_id,
    )
    assert "where the service decides" not in caplog.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's one-statement check")
def test_a_verify_inside_a_transaction_leaves_its_commit_synchronous(credential, operator):
    # (pytest-django runs this test in a transaction, as a caller's transaction would.)
    assert ecode_verify(token=token_issue(credential=credential).token, operator=operator).valid
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's one-statement check")
@pytest.mark.django_db(transaction=True)
def test_a_verify_is_committed_at_once_and_leaves_the_connection_as_it_was():
    credential = credential_factory()
    operator, _key = counter(region_code="110000")
    result = ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    assert result.valid
    seen: list[str] = []

    def read_elsewhere():
        try:
            seen.extend(CodeEvent.objects.filter(pk=result.event_id).values_list("result", flat=True))
        finally:
            connection.close()

    reader = threading.Thread(target=read_elsewhere)
    reader.start()
    reader.join()
    assert seen == ["ok"]
    # The check's own commit skips the wait for the disk; nothing after it does.
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_codes_made_before_a_subject_key_rotation_still_verify_and_use(
    credential, operator, settings, covered
):
    token = token_issue(credential=credential).token
    settings.ECODE_SUBJECT_OLD_KEYS = f"1:{settings.ECODE_SUBJECT_KEY}"
    settings.ECODE_SUBJECT_KEY = base64.urlsafe_b64encode(bytes(range(16, 32))).decode()
    assert ecode_verify(token=token, operator=operator).code == "ok"
    used = ecode_consume(token=token, operator=operator)
    assert used.valid and used.person == credential.person
    # Once the old key is dropped, its codes name nobody.
    settings.ECODE_SUBJECT_OLD_KEYS = ""
    assert ecode_verify(token=token, operator=operator).code == "unknown_subject"


def test_during_a_subject_key_rotation_a_codes_checks_and_use_name_it_alike(
    credential, operator, settings, covered
):
    from ecode.services.verify import _subject_candidates

    old_key = settings.ECODE_SUBJECT_KEY
    tokens = [token_issue(credential=credential).token for _ in range(40)]
    settings.ECODE_SUBJECT_OLD_KEYS = f"1:{old_key}"
    settings.ECODE_SUBJECT_KEY = base64.urlsafe_b64encode(bytes(range(16, 32))).decode()
    seen = set()
    for token in tokens:
        # Under the new key an old code decrypts to noise: a second candidate member id, or none.
        candidates = len(_subject_candidates(fields(token).subject))
        if candidates in seen:
            continue
        seen.add(candidates)
        checked = ecode_verify(token=token, operator=operator)
        used = ecode_consume(token=token, operator=operator)
        assert checked.valid and used.valid
        subjects = CodeEvent.objects.filter(pk__in=[checked.event_id, used.event_id]).values_list("subject")
        assert len(set(subjects)) == 1
        # The used code verifies as used, under either key; a retry with the same request number gets the
        # stored answer.
        first = ecode_verify(token=token, operator=operator, request_no=f"R-{candidates}")
        again = ecode_verify(token=token, operator=operator, request_no=f"R-{candidates}")
        assert (first.code, first.prior_use.use_id) == ("already_used", used.use_id)
        assert again.replayed and again.event_id == first.event_id and again.prior_use == first.prior_use
    assert seen == {1, 2}


@pytest.mark.parametrize("redis_remembers", [True, False])
def test_a_code_used_before_a_subject_key_rotation_stays_used_after_it(
    credential, operator, settings, redis_remembers, covered
):
    token = token_issue(credential=credential).token
    assert ecode_consume(token=token, operator=operator).valid
    settings.ECODE_SUBJECT_OLD_KEYS = f"1:{settings.ECODE_SUBJECT_KEY}"
    settings.ECODE_SUBJECT_KEY = base64.urlsafe_b64encode(bytes(range(16, 32))).decode()
    if not redis_remembers:
        cache.clear()  # the database's one-use index must refuse it too
    assert ecode_consume(token=token, operator=operator).code == "already_used"


@pytest.mark.parametrize(
    "offset, code", [(-CLOCK_SKEW - 1, "not_yet_valid"), (-CLOCK_SKEW, "ok"), (150, "ok"), (151, "expired")]
)
def test_clock_skew_edges_at_the_counter(credential, operator, offset, code):
    issued_at = timezone.now().replace(microsecond=0)
    token = token_issue(credential=credential, now=issued_at).token
    assert (
        ecode_verify(token=token, operator=operator, now=issued_at + timedelta(seconds=offset)).code == code
    )


def test_every_offline_refusal_is_recorded(credential, operator):
    token = token_issue(credential=credential).token
    raw = bytearray(from_digits(token))
    raw[0] = 2
    version2 = f"{int.from_bytes(raw, 'big'):0227d}"
    flipped = token[:-1] + str((int(token[-1]) + 1) % 10)
    cases = {"malformed": token[:-1], "unsupported_version": version2, "bad_signature": flipped}
    for code, text in cases.items():
        assert ecode_verify(token=text, operator=operator).code == code
    assert set(CodeEvent.objects.values_list("result", flat=True)) == set(cases)


def test_an_operator_who_is_not_a_counter_cannot_verify(credential):
    token = token_issue(credential=credential).token
    with pytest.raises(ServiceError) as caught:
        ecode_verify(token=token, operator=credential.person.user)
    assert caught.value.code == "not_a_counter"


def test_a_counter_of_an_inactive_institution_cannot_verify(credential, operator):
    operator.institution.active = False
    operator.institution.save()
    with pytest.raises(ServiceError) as caught:
        ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    assert caught.value.code == "institution_inactive"


# --- Consuming ---


def test_consume_uses_the_code_once_and_notifies_the_person(credential, operator, covered):
    token = token_issue(credential=credential).token
    result = ecode_consume(token=token, operator=operator)
    assert result.valid and result.use_id == result.event_id
    notice = Notification.objects.get(person=credential.person, event="ecode_used")
    assert notice.context["institution_code"] == operator.institution.code
    assert notice.context["institution_name"] == operator.institution.name
    assert notice.context["scene"] == "hospital" and notice.context["used_at"]
    second = ecode_consume(token=token, operator=operator)
    assert (second.valid, second.code, second.use_id) == (False, "already_used", None)
    # A verification after the use still reads the code, but it cannot be used again elsewhere either.
    other, _ = counter(region_code="310000")
    assert ecode_consume(token=token, operator=other).code == "already_used"
    assert CodeEvent.objects.filter(kind="consume", result="ok").count() == 1


def test_the_database_refuses_a_second_use_even_if_redis_forgot(credential, operator, covered):
    token = token_issue(credential=credential).token
    assert ecode_consume(token=token, operator=operator).valid
    cache.clear()
    assert ecode_consume(token=token, operator=operator).code == "already_used"


def test_a_retried_request_number_gets_the_same_answer(credential, operator, covered):
    token = token_issue(credential=credential).token
    first = ecode_consume(token=token, operator=operator, request_no="HIS-0001")
    again = ecode_consume(token=token, operator=operator, request_no="HIS-0001")
    assert again.valid and again.use_id == first.use_id and again.replayed
    with pytest.raises(ServiceError) as caught:
        ecode_consume(
            token=token_issue(credential=credential).token, operator=operator, request_no="HIS-0001"
        )
    assert caught.value.code == "duplicate_request_no"
    # Numbers are per institution: another counter may use the same one.
    other, _ = counter(region_code="310000")
    fresh = token_issue(credential=credential).token
    assert ecode_verify(token=fresh, operator=other, request_no="HIS-0001").valid


def test_a_failed_use_does_not_burn_the_code(credential, operator, covered):
    token = token_issue(credential=credential).token
    ecode_consume(token=token, operator=operator, request_no="A")
    fresh = token_issue(credential=credential).token
    with pytest.raises(ServiceError):
        ecode_consume(token=fresh, operator=operator, request_no="A")
    assert ecode_consume(token=fresh, operator=operator, request_no="B").valid


@pytest.mark.django_db(transaction=True)
def test_of_many_concurrent_uses_exactly_one_wins():
    credential = credential_factory()
    operators = [counter(region_code="110000")[0] for _ in range(3)]
    filed_at(credential.person, operators[0])
    token = token_issue(credential=credential).token
    barrier = threading.Barrier(12)
    results: list[str] = []

    def use(operator):
        try:
            barrier.wait()
            results.append(ecode_consume(token=token, operator=operator).code)
        finally:
            connection.close()

    threads = [threading.Thread(target=use, args=(operators[i % 3],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["already_used"] * 11 + ["ok"]
    assert CodeEvent.objects.filter(kind="consume").count() == 12
    assert CodeEvent.objects.filter(kind="consume", result="ok").count() == 1


# --- Keys ---


def test_after_rotation_the_old_key_verifies_inside_its_window_and_not_after(credential, operator):
    issued_at = timezone.now().replace(microsecond=0)
    old = token_issue(credential=credential, now=issued_at).token
    new_key = signing_key_rotate(reason="scheduled")
    retired = SigningKey.objects.get(status=SigningKeyStatus.VERIFY_ONLY)
    assert retired.verify_until >= retired.retired_at + timedelta(seconds=120 + CLOCK_SKEW)
    assert fields(token_issue(credential=credential).token).kid == new_key.kid != retired.kid
    assert ecode_verify(token=old, operator=operator, now=issued_at + timedelta(seconds=100)).valid
    # A long-lived token of the old key, still inside its own lifetime: refused once the key's window is over.
    long_lived = forged_token(
        member_id=credential.member_id,
        iat=int(issued_at.timestamp()),
        ttl_units=255,
        private_key=private_key_open(kid=retired.kid, sealed=retired.private_key_sealed),
        kid=retired.kid,
    )
    assert ecode_verify(token=long_lived, operator=operator, now=retired.verify_until).valid
    late = retired.verify_until + timedelta(seconds=1)
    assert ecode_verify(token=long_lived, operator=operator, now=late).code == "unknown_key"


def test_a_revoked_key_verifies_nothing_and_revoking_the_active_key_replaces_it(credential, operator):
    token = token_issue(credential=credential).token
    kid = fields(token).kid
    signing_key_revoke(kid=kid, reason="leaked")
    assert ecode_verify(token=token, operator=operator).code == "unknown_key"
    replacement = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    assert replacement.kid != kid
    assert ecode_verify(token=token_issue(credential=credential).token, operator=operator).valid
    with pytest.raises(ServiceError) as caught:
        signing_key_revoke(kid=kid)
    assert caught.value.code == "signing_key_revoked"


# --- Selectors for settlement and history ---


def test_settlement_finds_only_its_own_recent_use(credential, operator, covered):
    use = ecode_consume(token=token_issue(credential=credential).token, operator=operator)
    event = code_event_for_settlement(event_id=use.use_id, institution=operator.institution)
    assert event.person == credential.person
    other, _ = counter(region_code="310000")
    for kwargs, code in [
        ({"event_id": use.use_id, "institution": other.institution}, "wrong_institution"),
        ({"event_id": use.use_id + 1000, "institution": operator.institution}, "unknown_use"),
        (
            {
                "event_id": use.use_id,
                "institution": operator.institution,
                "now": timezone.now() + timedelta(minutes=31),
            },
            "use_expired",
        ),
    ]:
        with pytest.raises(ServiceError) as caught:
            code_event_for_settlement(**kwargs)
        assert caught.value.code == code
    verification = ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    with pytest.raises(ServiceError) as caught:
        code_event_for_settlement(event_id=verification.event_id, institution=operator.institution)
    assert caught.value.code == "unknown_use"


def test_history_lists_only_the_persons_own_events(credential, operator, covered):
    other = credential_factory()
    ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    ecode_consume(token=token_issue(credential=credential).token, operator=operator)
    ecode_verify(token=token_issue(credential=other).token, operator=operator)
    events = list(code_events_for_person(person=credential.person))
    assert [(e.kind, e.result) for e in events] == [("consume", "ok"), ("verify", "ok")]


def test_the_counter_sees_the_same_filing_answer_as_the_filing_selector_on_every_edge_day(credential):
    from datetime import datetime, time

    from filing.dates import today
    from filing.selectors import filing_coverage
    from filing.services import filing_create_draft, filing_submit

    person = credential.person
    draft = filing_create_draft(
        person=person, actor=person.user, group="emergency", destination="110000", start_date=today()
    )
    filing = filing_submit(filing=draft, actor=person.user)
    assert filing.status == "approved" and filing.end_date
    here, _ = counter(region_code="110000")
    edges = [
        filing.start_date - timedelta(days=1),
        filing.start_date,
        filing.end_date,
        filing.end_date + timedelta(1),
    ]
    answers = []
    for day in edges:
        at = timezone.make_aware(datetime.combine(day, time(12)))
        result = ecode_verify(token=token_issue(credential=credential, now=at).token, operator=here, now=at)
        expected = filing_coverage(person=person, institution=here.institution, on_date=day)
        assert (result.coverage.applies, result.coverage.reason) == (expected.applies, expected.reason)
        answers.append(result.coverage.reason)
    assert answers == ["no_filing", "ok", "ok", "no_filing"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's one-statement check")
def test_a_verify_of_a_used_code_is_one_statement_too(credential, operator, covered):
    from django.test.utils import CaptureQueriesContext

    token = token_issue(credential=credential).token
    use = ecode_consume(token=token, operator=operator)
    ecode_verify(token=token_issue(credential=credential).token, operator=operator)  # keys, regions
    with CaptureQueriesContext(connection) as queries:
        result = ecode_verify(token=token, operator=operator)
    work = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(work) == 1, work
    assert (result.code, result.prior_use.use_id) == ("already_used", use.use_id)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's one-statement check")
def test_a_verify_decides_coverage_as_the_filing_selector_does_in_one_statement():
    """The verify's own query carries the filings in force and the picks here; the answer must be the one
    filing.selectors.filing_coverage gives, in every case, and cost a single statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from filing.dates import today
    from filing.models import FilingInstitution
    from filing.selectors import filing_coverage
    from filing.services import filing_create_draft, filing_submit
    from reference.models import Institution

    credential = credential_factory(insured_region="510100")
    person = credential.person
    beijing, _key = counter(region_code="110000")
    picked, _key = counter(region_code="110000")
    shanghai, _key = counter(region_code="310000")
    offline, _key = counter(region_code="110000")
    Institution.objects.filter(pk=offline.institution.pk).update(networked=False)
    offline.institution.refresh_from_db()
    operators = [beijing, picked, shanghai, offline]

    def same_answers(expected_reasons):
        for operator, expected in zip(operators, expected_reasons, strict=True):
            institution = operator.institution
            ecode_verify(token=token_issue(credential=credential).token, operator=operator)  # keys, regions
            token = token_issue(credential=credential).token
            with CaptureQueriesContext(connection) as queries:
                result = ecode_verify(token=token, operator=operator)
            # One statement reads the credential, the filings and the picks, and records the check.
            work = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
            assert len(work) == 1, work
            assert CodeEvent.objects.filter(pk=result.event_id, result="ok", institution=institution).exists()
            by_selector = filing_coverage(person=person, institution=institution, on_date=today())
            assert (result.coverage.applies, result.coverage.reason) == (
                by_selector.applies,
                by_selector.reason,
            )
            assert result.coverage.reason == expected
            assert getattr(result.coverage.filing, "pk", None) == getattr(by_selector.filing, "pk", None)
            if result.coverage.filing is not None:
                assert result.coverage.filing.destination.full_name == "北京市"
                assert result.coverage.filing.start_date == by_selector.filing.start_date

    same_answers(["no_filing"] * 4)
    draft = filing_create_draft(
        person=person, actor=person.user, group="emergency", destination="110000", start_date=today()
    )
    filing = filing_submit(filing=draft, actor=person.user)
    same_answers(["ok", "ok", "other_destination", "institution_not_networked"])
    filing.pick_required = True
    filing.save(update_fields=["pick_required"])
    FilingInstitution.objects.create(filing=filing, institution=picked.institution)
    same_answers(["institution_not_picked", "ok", "other_destination", "institution_not_networked"])
