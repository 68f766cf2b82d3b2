"""What a counter is told before and after it uses a code: a used code verifies as used (when, and where as far
as this counter may know), a person with no filing in force here is told apart from one who can settle here,
and a use that could not be settled is refused unless it is an emergency. Each answer runs on PostgreSQL and on
the embedded default (SQLite)."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.choices import PersonStatus
from ecode.models import CodeEvent, CredentialStatus
from ecode.services import ecode_consume, ecode_verify, token_issue
from filing.models import FilingInstitution
from notifications.models import Notification
from reference.models import Institution
from tests.factories import person_factory

from .factories import counter, credential_factory, filed_at

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

BASE = "/api/v1/ecode/"


@pytest.fixture
def credential():
    return credential_factory(name="李秀英", insured_region="510100")


@pytest.fixture
def here(counter_client):
    operator, key = counter(region_code="310000", name="上海市第一人民医院")
    return operator, counter_client(key)


@pytest.fixture
def elsewhere(counter_client):
    operator, key = counter(region_code="310000", area="310104", name="复旦大学附属中山医院")
    return operator, counter_client(key)


def _clock(event_id: int) -> str:
    return timezone.localtime(CodeEvent.objects.get(pk=event_id).created_at).strftime("%H:%M:%S")


# --- A used code ---


def test_a_used_code_verifies_as_used_here_with_when_and_the_use_to_settle(credential, here):
    operator, client = here
    filed_at(credential.person, operator)
    token = token_issue(credential=credential).token
    use = client.post(BASE + "consume", {"token": token}, format="json").json()
    assert use["use_id"]

    response = client.post(BASE + "verify", {"token": token}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert (body["valid"], body["code"], body["settlement_here"]) == (False, "already_used", False)
    used = body["used"]
    assert used["here"] is True and used["use_id"] == use["use_id"]
    assert (used["institution_code"], used["institution_name"]) == (
        operator.institution.code,
        "上海市第一人民医院",
    )
    assert used["at"].endswith("+08:00")  # Beijing time
    assert timezone.datetime.fromisoformat(used["at"]) == CodeEvent.objects.get(pk=use["use_id"]).created_at
    time = _clock(use["use_id"])
    assert body["message"] == (
        f"该医保电子凭证码已于 {time} 在本机构使用（使用流水号 {use['use_id']}），不能再次使用。请凭该使用流水号结算账单。"
    )
    english = client.post(BASE + "verify", {"token": token}, format="json", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["message"] == (
        f"This e-code was already used here at {time} (use number {use['use_id']}) and cannot be used again. "
        "Settle the bill with that use number."
    )
    # Every check is recorded, the refused ones too, with the person it named.
    event = CodeEvent.objects.get(pk=body["event_id"])
    assert (event.kind, event.result, event.person_id) == ("verify", "already_used", credential.person_id)


def test_another_institution_learns_when_a_code_was_used_but_not_where(credential, here, elsewhere):
    operator, client = here
    filed_at(credential.person, operator)
    token = token_issue(credential=credential).token
    use_id = client.post(BASE + "consume", {"token": token}, format="json").json()["use_id"]

    _other, other_client = elsewhere
    response = other_client.post(BASE + "verify", {"token": token}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "already_used"
    assert body["used"] == {
        "at": body["used"]["at"],
        "here": False,
        "institution_code": None,
        "institution_name": None,
        "use_id": None,
    }
    assert body["message"] == (
        f"该医保电子凭证码已于 {_clock(use_id)} 在其他机构使用，不能再次使用。请让参保人出示新的电子凭证码。"
    )
    assert "上海市第一人民医院" not in response.content.decode()
    assert operator.institution.code not in response.content.decode()


def test_a_code_is_known_as_used_from_the_database_when_redis_forgot(credential, here):
    operator, client = here
    filed_at(credential.person, operator)
    token = token_issue(credential=credential).token
    use_id = client.post(BASE + "consume", {"token": token}, format="json").json()["use_id"]
    cache.clear()  # the one-use marker is gone; the consume event under its unique index remains
    for action in ("verify", "consume"):
        body = client.post(BASE + action, {"token": token}, format="json").json()
        assert (body["code"], body["used"]["use_id"]) == ("already_used", use_id), action
    assert CodeEvent.objects.filter(kind="consume", result="ok").count() == 1


def test_a_second_use_is_refused_with_the_first_ones_number(credential, here):
    operator, client = here
    filed_at(credential.person, operator)
    token = token_issue(credential=credential).token
    first = client.post(BASE + "consume", {"token": token}, format="json").json()
    second = client.post(BASE + "consume", {"token": token}, format="json")
    assert second.status_code == 422
    assert second.json()["used"]["use_id"] == first["use_id"] and "use_id" not in second.json()


def test_a_verify_of_a_used_code_is_replayed_with_its_use(credential, here):
    operator, client = here
    filed_at(credential.person, operator)
    token = token_issue(credential=credential).token
    use_id = client.post(BASE + "consume", {"token": token}, format="json").json()["use_id"]
    first = client.post(BASE + "verify", {"token": token, "request_no": "R-9"}, format="json").json()
    again = client.post(BASE + "verify", {"token": token, "request_no": "R-9"}, format="json").json()
    assert again == first and first["used"]["use_id"] == use_id


@pytest.mark.parametrize("used", [False, True])
@pytest.mark.parametrize("person_status", PersonStatus.values)
@pytest.mark.parametrize("credential_status", CredentialStatus.values)
def test_every_state_of_credential_person_and_use_is_answered_and_recorded_alike(
    credential, here, credential_status, person_status, used, caplog
):
    # On PostgreSQL one statement decides and records the check in SQL, on SQLite the service in Python: the
    # answer and the record agree in every state, in the table's order (a stopped credential before a use).
    operator, _client = here
    token = token_issue(credential=credential).token
    if used:
        filed_at(credential.person, operator)
        assert ecode_consume(token=token, operator=operator).valid
    credential.__class__.objects.filter(pk=credential.pk).update(status=credential_status)
    credential.person.__class__.objects.filter(pk=credential.person_id).update(status=person_status)
    if credential_status == CredentialStatus.REVOKED:
        expected = "credential_revoked"
    elif credential_status == CredentialStatus.SUSPENDED or person_status != PersonStatus.ACTIVE:
        expected = "credential_suspended"
    else:
        expected = "already_used" if used else "ok"
    result = ecode_verify(token=token, operator=operator)
    assert result.code == expected
    assert (result.prior_use is not None) == (expected == "already_used")
    assert CodeEvent.objects.get(pk=result.event_id).result == expected
    assert "where the service decides" not in caplog.text


def test_only_plain_words_are_written_into_the_statement():
    from ecode.refusals import sql_word

    assert sql_word("credential_suspended") == "'credential_suspended'"
    for value in ("ok'; DROP TABLE x; --", "OK", "ok ", "", "用过"):
        with pytest.raises(ValueError):
            sql_word(value)


def test_the_statement_decides_every_combination_of_facts_as_the_table_does():
    # The SQL CASE of a verify's statement is made from the same table as the Python decision; run it on this
    # database for every combination of the facts the table looks at.
    from ecode.refusals import REFUSALS, check_refusal, check_refusal_case
    from ecode.services.verify import _CHECK_FACT_COLUMNS

    case, params = check_refusal_case(_CHECK_FACT_COLUMNS)
    values = {
        "credential": [None, 7],
        "credential_status": [None, *CredentialStatus.values],
        "person_status": [None, *PersonStatus.values],
        "use": [None, '[1, "2026-01-01T00:00:00+00:00", 3]'],
    }
    assert {rule.fact for rule in REFUSALS} == set(values)
    person_status = _CHECK_FACT_COLUMNS["person_status"].removeprefix("c.")
    row = f"SELECT %s AS credential_pk, %s AS credential_status, %s AS {person_status}, %s AS check_use"
    with connection.cursor() as cursor:
        for combination in itertools.product(*values.values()):
            facts = dict(zip(values, combination, strict=True))
            cursor.execute(f"SELECT {case} FROM ({row}) c", (*params, *combination))  # noqa: S608
            assert cursor.fetchone()[0] == (check_refusal(facts) or "ok"), facts


# --- No direct settlement here ---


def test_verify_tells_direct_settlement_here_from_each_reason_there_is_none(credential, counter_client):
    from filing.dates import today
    from filing.services import filing_create_draft, filing_submit

    person = credential.person
    beijing, beijing_key = counter(region_code="110000")
    unpicked, unpicked_key = counter(region_code="110000")
    offline, offline_key = counter(region_code="110000")
    Institution.objects.filter(pk=offline.institution.pk).update(networked=False)
    shanghai, shanghai_key = counter(region_code="310000")

    def answer(key, lang="zh-hans"):
        token = token_issue(credential=credential).token
        response = counter_client(key).post(
            BASE + "verify", {"token": token}, format="json", HTTP_ACCEPT_LANGUAGE=lang
        )
        assert response.status_code == 200
        return response.json()

    body = answer(beijing_key)
    assert (body["valid"], body["settlement_here"]) == (True, False)
    assert body["coverage"] == {
        "applies": False,
        "reason": "no_filing",
        "message": "无有效备案",
        "emergency_possible": True,
    }
    assert body["message"] == "医保电子凭证有效，但本机构不能直接结算。无有效备案。"
    english = answer(beijing_key, "en")
    assert (
        english["message"]
        == "The e-code is valid, but there is no direct settlement here. No filing in force."
    )

    filing = filing_submit(
        filing=filing_create_draft(
            person=person,
            actor=person.user,
            group="resident",
            destination="110000",
            start_date=today(),
            commitment=True,
        ),
        actor=person.user,
    )
    assert filing.status == "approved"
    filing.pick_required = True
    filing.save(update_fields=["pick_required"])
    FilingInstitution.objects.create(filing=filing, institution=beijing.institution)
    expected = {
        beijing_key: (True, "ok", True),
        unpicked_key: (False, "institution_not_picked", True),
        offline_key: (False, "institution_not_networked", False),
        shanghai_key: (False, "other_destination", True),
    }
    for key, (settles, reason, emergency) in expected.items():
        body = answer(key)
        assert body["valid"] is True
        assert (body["settlement_here"], body["coverage"]["reason"]) == (settles, reason)
        assert body["coverage"]["applies"] is settles and body["coverage"]["emergency_possible"] is emergency
        assert body["filing_in_force"]["direct_settlement"] is settles
        assert (body["message"] == "医保电子凭证有效。") is settles


def test_a_use_without_a_filing_here_is_refused_and_the_code_stays_usable(credential, here):
    operator, client = here
    token = token_issue(credential=credential).token
    response = client.post(BASE + "consume", {"token": token}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert (body["valid"], body["code"], body["settlement_here"]) == (False, "not_covered", False)
    assert (body["coverage"]["reason"], body["coverage"]["emergency_possible"]) == ("no_filing", True)
    assert body["message"] == "医保电子凭证码未使用：本机构不能直接结算。无有效备案。"
    assert body["used"] is None and list(body["fields"]) == ["token"]
    english = client.post(BASE + "consume", {"token": token}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["message"] == (
        "The e-code was not used: there is no direct settlement here. No filing in force."
    )
    # Recorded as a refused use; the person is not told of a use that did not happen.
    event = CodeEvent.objects.get(pk=body["event_id"])
    assert (event.kind, event.result, event.person_id) == ("consume", "not_covered", credential.person_id)
    assert not Notification.objects.filter(person=credential.person, event="ecode_used").exists()
    # The code was not burned: once the person has a filing here, the same code is used.
    filed_at(credential.person, operator)
    used = client.post(BASE + "consume", {"token": token}, format="json")
    assert used.status_code == 200 and used.json()["use_id"] and used.json()["settlement_here"] is True
    assert used.json()["emergency"] is False


def test_a_refused_use_is_replayed_with_its_reason(credential, here):
    _operator, client = here
    token = token_issue(credential=credential).token
    first = client.post(BASE + "consume", {"token": token, "request_no": "U-1"}, format="json")
    again = client.post(BASE + "consume", {"token": token, "request_no": "U-1"}, format="json")
    assert again.status_code == first.status_code == 409 and again.json() == first.json()


def test_an_emergency_use_without_a_filing_is_accepted_and_settled_as_an_emergency(credential, here):
    from tests.settlement import factories as f

    f.policy(emergency_cut=D("0.05"))
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    operator, client = here
    token = token_issue(credential=credential).token
    response = client.post(BASE + "consume", {"token": token, "emergency": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["use_id"] and (body["emergency"], body["settlement_here"]) == (True, False)
    assert body["message"] == "医保电子凭证码已按急诊抢救使用，请凭使用流水号按急诊抢救结算账单。"
    assert Notification.objects.filter(person=credential.person, event="ecode_used").count() == 1
    # The settlement of that use, as an emergency, is recorded as filed.
    settled = client.post(
        "/api/v1/settlements/",
        {
            "use_id": body["use_id"],
            "emergency": True,
            "visit_type": "general_outpatient",
            "visit_date": timezone.localdate().isoformat(),
            "items": f.api_items(("XJ01CAA040A001", 20, "25.00")),
        },
        format="json",
    )
    assert settled.status_code == 201, settled.json()
    assert settled.json()["filing_group"] == "emergency"


def test_an_emergency_does_not_make_an_institution_that_cannot_settle_settle(credential, counter_client):
    operator, key = counter(region_code="310000", networked=False)
    client = counter_client(key)
    token = token_issue(credential=credential).token
    response = client.post(BASE + "consume", {"token": token, "emergency": True}, format="json")
    assert response.status_code == 409
    body = response.json()
    # (It has no filing in force either; an emergency cannot be recorded as filed at such an institution.)
    assert (body["code"], body["coverage"]["reason"], body["coverage"]["emergency_possible"]) == (
        "not_covered",
        "no_filing",
        False,
    )
    verified = client.post(BASE + "verify", {"token": token}, format="json").json()
    assert verified["coverage"]["emergency_possible"] is False
    assert not CodeEvent.objects.filter(kind="consume", result="ok").exists()


def test_emergency_must_be_a_boolean(credential, here):
    _operator, client = here
    token = token_issue(credential=credential).token
    response = client.post(BASE + "consume", {"token": token, "emergency": "maybe"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["emergency"]
    assert not CodeEvent.objects.exists()


def test_a_person_filed_here_uses_the_code_without_saying_emergency(here):
    operator, client = here
    person = person_factory(insured_region="510100")
    filed_at(person, operator)
    token = token_issue(credential=credential_factory(person=person)).token
    body = client.post(BASE + "consume", {"token": token, "emergency": False}, format="json").json()
    assert body["use_id"] and body["settlement_here"] is True and body["emergency"] is False
    assert body["message"] == "医保电子凭证码已使用，请凭使用流水号结算账单。"


def test_the_schema_documents_settlement_here_the_refusals_and_emergency(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    result = components["EcodeCheckResult"]["properties"]
    assert {"settlement_here", "emergency", "coverage", "use_id"} <= set(result)
    coverage = components["EcodeCheckCoverage"]["properties"]
    assert {"applies", "reason", "message", "emergency_possible"} <= set(coverage)
    refusal = components["EcodeCheckRefusal"]["properties"]
    assert {"valid", "code", "used", "coverage", "event_id"} <= set(refusal)
    assert {"at", "here", "institution_name", "use_id"} <= set(components["EcodeCheckUsed"]["properties"])
    assert "emergency" in components["EcodeConsumeRequest"]["properties"]
    consume = schema["paths"]["/api/v1/ecode/consume"]["post"]
    assert {"200", "409", "422"} <= set(consume["responses"])
