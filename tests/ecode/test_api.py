import io
import json
import re
from datetime import timedelta

import pytest
import zxingcpp
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from PIL import Image

from accounts.services import api_key_revoke
from ecode.models import CodeEvent
from ecode.services import credential_suspend, token_issue
from ecode.token import TOKEN_DIGITS
from ecode.verifier import KeySet, verify
from tests.factories import CounterFactory, person_factory

from .factories import counter, credential_factory, filed_at

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

BASE = "/api/v1/ecode/"


@pytest.fixture
def credential():
    return credential_factory(name="李秀英", insured_region="510100")


@pytest.fixture
def terminal(counter_client):
    operator, key = counter(region_code="310000")
    return operator, counter_client(key)


@pytest.fixture
def covered(credential, terminal):
    """The credential's person has a filing in force for the terminal's area: a use there settles."""
    return filed_at(credential.person, terminal[0])


def _decode(image: Image.Image):
    (result,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return result


def _svg_to_image(svg: str, scale: int = 6) -> Image.Image:
    """Rasterise our SVG (a white rect and one path of h/m moves, one module per unit) for the decoder."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    image = Image.new("L", (size * scale, size * scale), 255)
    path = re.search(r' d="([^"]+)"', svg).group(1)
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            row = int(y)
            image.paste(0, (int(x * scale), row * scale, int((x + float(a)) * scale), (row + 1) * scale))
            x += float(a)
    return image


# --- The person's side ---


def test_a_person_activates_once_and_sees_the_state(person_client):
    person = person_factory()
    client = person_client(person)
    assert client.get(BASE).json()["status"] == "not_activated"
    response = client.post(BASE + "activate")
    assert response.status_code == 201 and response.json()["status"] == "active"
    again = client.post(BASE + "activate")
    assert again.status_code == 409 and again.json()["code"] == "already_activated"
    state = client.get(BASE).json()
    assert state["status"] == "active" and state["activated_at"]
    assert "member_id" not in state


def test_a_person_sees_a_suspension_and_its_reason(person_client, credential):
    credential_suspend(credential=credential, actor=None, reason="挂失")
    client = person_client(credential.person)
    state = client.get(BASE).json()
    assert (state["status"], state["suspended_reason"]) == ("suspended", "挂失")
    response = client.get(BASE + "current")
    assert response.status_code == 409 and response.json()["code"] == "credential_suspended"


def test_current_gives_a_fresh_token_not_to_be_cached(person_client, credential):
    response = person_client(credential.person).get(BASE + "current")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"token", "expires_at", "refresh_after"}
    assert len(body["token"]) == TOKEN_DIGITS and body["token"].isdigit()
    expires, refresh = parse_datetime(body["expires_at"]), parse_datetime(body["refresh_after"])
    assert timedelta(seconds=89) <= expires - refresh <= timedelta(seconds=91)
    assert timezone.now() < refresh < timezone.now() + timedelta(seconds=31)


def test_a_person_without_an_ecode_gets_not_activated(person_client):
    client = person_client(person_factory())
    for path in ("current", "current.svg", "current.png"):
        response = client.get(BASE + path)
        assert response.status_code == 409 and response.json()["code"] == "not_activated"


def test_png_and_svg_decode_to_a_token_that_verifies_as_qr_version_6_level_m(
    client, person_client, credential
):
    person = person_client(credential.person)
    keys = KeySet.from_json(client.get("/.well-known/ecode-keys.json").content)
    png = person.get(BASE + "current.png", HTTP_ACCEPT="image/png")
    assert (
        png.status_code == 200 and png["Content-Type"] == "image/png" and png["Cache-Control"] == "no-store"
    )
    svg = person.get(BASE + "current.svg")
    assert svg["Content-Type"] == "image/svg+xml" and svg["Cache-Control"] == "no-store"
    for result in (
        _decode(Image.open(io.BytesIO(png.content))),
        _decode(_svg_to_image(svg.content.decode())),
    ):
        assert len(result.text) == TOKEN_DIGITS
        assert result.ec_level == "M" and int(result.extra["Version"]) <= 6
        assert verify(result.text, keys).region == "510100"


def test_history_shows_only_the_persons_own_checks_in_constant_queries(
    person_client, credential, terminal, covered, django_assert_max_num_queries
):
    _operator, counter_api = terminal
    other = credential_factory()
    counter_api.post(BASE + "verify", {"token": token_issue(credential=other).token}, format="json")
    for _ in range(2):
        counter_api.post(BASE + "verify", {"token": token_issue(credential=credential).token}, format="json")
    client = person_client(credential.person)
    with CaptureQueriesContext(connection) as few:
        body = client.get(BASE + "history").json()
    queries = len(few)
    assert body["count"] == 2 and queries <= 6
    for _ in range(6):
        counter_api.post(BASE + "consume", {"token": token_issue(credential=credential).token}, format="json")
    with django_assert_max_num_queries(queries):
        body = client.get(BASE + "history").json()
    assert body["count"] == 8
    first = body["results"][0]
    assert first["kind"] == "consume" and first["result"] == "ok"
    assert first["institution_name"] == _operator.institution.name


# --- The counter's side ---


def test_verify_returns_the_masked_person_and_records_the_terminal(credential, terminal):
    operator, client = terminal
    token = token_issue(credential=credential).token
    response = client.post(BASE + "verify", {"token": token + "\r\n", "request_no": "Q1"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["code"] == "ok" and body["use_id"] is None
    assert body["person"] == {
        "name": "李*英",
        "id_number": credential.person.masked_id_number,
        "insured_region": "510100",
        "insured_region_name": "四川省成都市",
        "scheme": "employee",
        "scheme_code": 1,
    }
    assert body["filing_in_force"] is None and body["settlement_here"] is False
    assert body["coverage"] == {
        "applies": False,
        "reason": "no_filing",
        "message": "无有效备案",
        "emergency_possible": True,
    }
    assert body["token"]["filing_in_force"] is False
    event = CodeEvent.objects.get(pk=body["event_id"])
    assert event.institution == operator.institution and event.operator == operator
    assert event.api_key_prefix == operator.api_keys.get().prefix and event.request_no == "Q1"


def test_consume_once_then_already_used(credential, terminal, covered):
    _operator, client = terminal
    token = token_issue(credential=credential).token
    first = client.post(BASE + "consume", {"token": token}, format="json")
    assert first.status_code == 200 and first.json()["use_id"] == first.json()["event_id"]
    second = client.post(BASE + "consume", {"token": token}, format="json")
    assert second.status_code == 422
    body = second.json()
    assert body["code"] == "already_used" and body["message"] and body["event_id"] != first.json()["event_id"]
    assert set(body) == {
        "code",
        "message",
        "fields",
        "event_id",
        "valid",
        "settlement_here",
        "used",
        "coverage",
    }


def test_refusals_have_their_codes_statuses_and_messages_in_the_request_language(credential, terminal):
    _operator, client = terminal
    token = token_issue(credential=credential).token
    flipped = token[:-1] + str((int(token[-1]) + 1) % 10)
    response = client.post(BASE + "verify", {"token": flipped}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "bad_signature"
    assert "签名" in response.json()["message"]
    english = client.post(BASE + "verify", {"token": flipped}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["message"].startswith("The e-code signature is invalid")
    credential_suspend(credential=credential, actor=None, reason="x")
    response = client.post(BASE + "verify", {"token": token}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "credential_suspended"


BAD_INPUTS = [
    {"token": ""},
    {"token": "1" * 226},
    {"token": "1" * 228},
    {"token": "9" * 227},  # above 2**752
    {"token": "abc" * 76},
    {"token": "\u0661" * 227},  # Arabic-Indic digits: isdigit() but not ASCII
    {"token": "１" * 227},  # full-width digits
    {"token": "1" * 100 + " " + "1" * 126},
    {"token": "x" * 200_000},
    {"token": "1\x00" * 113},
    {"token": 123},
    {"token": int("1" * 227)},
    {"token": None},
    {"token": []},
    {"token": {"a": 1}},
    {"token": True},
    {"token": 1.5},
    {},
    [],
    "token",
    {"token": "1" * 227, "request_no": "x" * 65},
    {"token": "1" * 227, "request_no": {"n": 5}},
    {"token": "1" * 227, "institution_code": ["H1"]},
]


@pytest.mark.parametrize("payload", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
@pytest.mark.parametrize("action", ["verify", "consume"])
def test_bad_input_is_a_400_never_a_500(terminal, payload, action):
    _operator, client = terminal
    response = client.post(BASE + action, payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) >= {"code", "message", "fields"}
    assert body["code"] in ("malformed", "invalid", "parse_error")


@pytest.mark.parametrize(
    "body, content_type",
    [(b"{not json", "application/json"), (b"\xff\xfe", "application/json"), (b"token=123", "text/plain")],
)
def test_unparseable_bodies_are_refused_cleanly(terminal, body, content_type):
    _operator, client = terminal
    response = client.generic("POST", BASE + "verify", body, content_type=content_type)
    assert response.status_code in (400, 415)
    assert "code" in response.json()


@pytest.mark.parametrize("action", ["verify", "consume"])
def test_the_counter_endpoints_speak_json_whatever_the_accept_header_asks(credential, terminal, action):
    _operator, client = terminal
    token = token_issue(credential=credential).token
    response = client.post(BASE + action, {"token": token}, format="json", HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == "application/json"
    assert response.json()["valid"] is True or response.json()["code"] == "not_covered"
    refused = client.post(BASE + action, {"token": "123"}, format="json", HTTP_ACCEPT="application/xml")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
    assert refused.json()["code"] == "malformed"


@pytest.mark.parametrize("action", ["verify", "consume"])
def test_the_counter_endpoints_refuse_a_form_body_with_415(credential, terminal, action):
    _operator, client = terminal
    token = token_issue(credential=credential).token
    before = CodeEvent.objects.count()
    response = client.post(BASE + action, {"token": token})  # multipart, as a browser form would send it
    assert response.status_code == 415 and response["Content-Type"] == "application/json"
    assert set(response.json()) >= {"code", "message", "fields"}
    assert CodeEvent.objects.count() == before  # nothing was checked, so nothing recorded


def test_a_malformed_code_is_recorded_as_such(terminal):
    _operator, client = terminal
    response = client.post(BASE + "verify", {"token": "123"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "malformed"
    assert CodeEvent.objects.get(pk=response.json()["event_id"]).result == "malformed"


# --- Who may do what ---


def test_a_person_cannot_verify_and_a_counter_cannot_get_codes(person_client, credential, terminal):
    _operator, counter_api = terminal
    person = person_client(credential.person)
    token = token_issue(credential=credential).token
    for action in ("verify", "consume"):
        assert person.post(BASE + action, {"token": token}, format="json").status_code == 403
    for path in ("", "current", "current.svg", "current.png", "history"):
        assert counter_api.get(BASE + path).status_code == 403
    assert counter_api.post(BASE + "activate").status_code == 403


def test_anonymous_callers_are_refused(api_client, credential):
    token = token_issue(credential=credential).token
    assert api_client.post(BASE + "verify", {"token": token}, format="json").status_code == 401
    assert api_client.get(BASE + "current").status_code == 401
    assert api_client.get(BASE + "current.png", HTTP_ACCEPT="image/png").status_code == 401


def test_a_revoked_key_or_an_inactive_institution_is_refused(credential, counter_client):
    token = token_issue(credential=credential).token
    operator, key = counter(region_code="110000")
    client = counter_client(key)
    assert client.post(BASE + "verify", {"token": token}, format="json").status_code == 200
    operator.institution.active = False
    operator.institution.save()
    assert client.post(BASE + "verify", {"token": token}, format="json").status_code == 401
    operator.institution.active = True
    operator.institution.save()
    api_key_revoke(key=operator.api_keys.get())
    assert client.post(BASE + "verify", {"token": token}, format="json").status_code == 401
    assert CodeEvent.objects.count() == 1


def test_a_signed_in_counter_of_an_inactive_institution_is_refused(api_client, credential):
    operator = CounterFactory()
    operator.institution.active = False
    operator.institution.save()
    api_client.force_authenticate(operator)
    token = token_issue(credential=credential).token
    assert api_client.post(BASE + "verify", {"token": token}, format="json").status_code == 403


def test_an_institution_cannot_act_for_another_and_each_check_is_its_own(credential, counter_client):
    first, first_key = counter(region_code="110000")
    second, second_key = counter(region_code="310000")
    filed_at(credential.person, second)
    token = token_issue(credential=credential).token
    foreign = counter_client(first_key).post(
        BASE + "consume", {"token": token, "institution_code": second.institution.code}, format="json"
    )
    assert foreign.status_code == 403 and foreign.json()["code"] == "wrong_institution"
    assert list(foreign.json()["fields"]) == ["institution_code"]
    event = CodeEvent.objects.get(pk=foreign.json()["event_id"])
    assert event.institution == first.institution and event.result == "wrong_institution"
    # The code was not used by that refusal.
    used = counter_client(second_key).post(
        BASE + "consume", {"token": token, "institution_code": second.institution.code}, format="json"
    )
    assert used.status_code == 200
    assert CodeEvent.objects.get(pk=used.json()["use_id"]).institution == second.institution


def test_the_schema_documents_the_ecode_endpoints(api_client):
    schema = api_client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/ecode/verify", "/api/v1/ecode/consume", "/api/v1/ecode/current.png"):
        assert path in text
    assert json.dumps("malformed")[1:-1] in text or "422" in text


# --- The filing in force, as the counter sees it ---


def _emergency_filing(person, destination: str):
    from filing.dates import today
    from filing.services import filing_create_draft, filing_submit

    draft = filing_create_draft(
        person=person, actor=person.user, group="emergency", destination=destination, start_date=today()
    )
    return filing_submit(filing=draft, actor=person.user)


def test_the_counter_sees_the_filing_in_force_and_whether_it_settles_here(credential, counter_client):
    filing = _emergency_filing(credential.person, "110000")
    assert filing.status == "approved"
    token = token_issue(credential=credential).token
    _here, here_key = counter(region_code="110000")
    body = counter_client(here_key).post(BASE + "verify", {"token": token}, format="json").json()
    assert body["token"]["filing_in_force"] is True
    assert body["settlement_here"] is True
    assert body["coverage"] == {
        "applies": True,
        "reason": "ok",
        "message": "已在本地备案且有效",
        "emergency_possible": True,
    }
    assert body["filing_in_force"] == {
        "group": "emergency",
        "destination": "110000",
        "destination_name": "北京市",
        "start_date": filing.start_date.isoformat(),
        "end_date": filing.end_date.isoformat() if filing.end_date else None,
        "direct_settlement": True,
    }
    _elsewhere, elsewhere_key = counter(region_code="310000")
    body = counter_client(elsewhere_key).post(BASE + "verify", {"token": token}, format="json").json()
    assert body["valid"] is True and body["settlement_here"] is False
    assert (body["coverage"]["applies"], body["coverage"]["reason"]) == (False, "other_destination")
    assert body["filing_in_force"]["destination"] == "110000"
    assert body["filing_in_force"]["direct_settlement"] is False


@pytest.mark.parametrize(
    "data",
    [
        {"token": "1" * 227},
        {"token": " 1234 ", "request_no": " HIS-1 ", "institution_code": "H11010500001"},
        {"token": "1" * 227, "request_no": "", "institution_code": ""},
        {"token": "1" * 1000, "request_no": "R" * 64, "institution_code": "H" * 12, "other": 1},
        {"token": "1" * 1001},
        {"token": "1", "request_no": "R" * 65},
        {"token": "1", "institution_code": "H" * 13},
        {"token": "1", "request_no": "  " + "R" * 64 + "  "},
        {"token": "1", "request_no": "住院-1"},
        {"token": "1", "request_no": "a\x00b"},
        {"token": "1", "request_no": "\tR-1\n"},
        {"token": "1", "request_no": 12},
        {"token": "1", "request_no": None},
        {"token": 12},
        {"token": None},
        {"request_no": "R-1"},
        {},
        ["1" * 227],
        "1" * 227,
        {"token": "1" * 227, "emergency": True},
        {"token": "1" * 227, "emergency": "false"},
        {"token": "1" * 227, "emergency": "maybe"},
        {"token": "1" * 227, "emergency": None},
    ],
)
@pytest.mark.parametrize("serializer_name", ["CheckInputSerializer", "ConsumeInputSerializer"])
def test_the_check_input_is_what_its_serializer_makes_of_it(data, serializer_name):
    # The counter endpoints take the usual scan without building a serializer; what they accept and what they
    # refuse, with which errors, must be exactly the serializer's (a use's too, which may say emergency).
    from rest_framework.exceptions import ValidationError

    from ecode import api

    serializer_class = getattr(api, serializer_name)
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        expected = {"request_no": "", "institution_code": "", **serializer.validated_data}
        assert api.check_input(data, serializer_class) == expected
    else:
        with pytest.raises(ValidationError) as refused:
            api.check_input(data, serializer_class)
        assert refused.value.detail == serializer.errors
