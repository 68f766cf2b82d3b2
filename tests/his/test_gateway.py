"""The gateway and the envelope: every refusal gets the whole envelope with the documented HTTP status."""

import json
import time

import pytest

from his.models import HisMessage
from his.services import his_terminal_revoke
from settlement.models import Settlement
from tests.his.client import HisClient
from tests.his.helpers import ecode_token, fee_input, settle_input, visit_input, world
from tests.his.test_outpatient import ok, refused, register

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

SIGN_IN = {"signIn": {"opter_no": "0007", "mac": "", "ip": "10.0.0.8"}}


@pytest.fixture
def setup(client):
    person, operator, key, terminal, secret = world()
    his = HisClient(client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret)
    return his, person, operator, key, terminal


def test_signed_request_with_infno_in_the_url_or_the_body_is_answered(setup):
    his = setup[0]
    assert ok(his.call("9001", SIGN_IN))["signinoutb"]["sign_no"]
    assert ok(his.call("9001", SIGN_IN, in_body=True))["signinoutb"]["sign_no"]


def test_api_key_is_accepted_too(setup, client):
    his, _person, operator, key, _terminal = setup
    keyed = HisClient(client, fixmedins_code=operator.institution.code, api_key=key)
    assert ok(keyed.call("9001", SIGN_IN))["signinoutb"]["sign_no"]


def test_bad_signature_is_refused_with_401(setup):
    his = setup[0]
    refused(his.call("9001", SIGN_IN, **his.headers(signature="0" * 64)), "bad_signature", 401)


def test_replayed_nonce_is_refused(setup):
    his = setup[0]
    headers = his.headers(nonce="n-123")
    ok(his.call("9001", SIGN_IN, **headers))
    refused(his.call("9001", SIGN_IN, **headers), "replayed_nonce", 401)


def test_replayed_nonce_is_refused_while_the_cache_is_away(setup, settings):
    from core import cache as core_cache

    his = setup[0]
    core_cache.cache_failed(what="test", error=OSError())  # the cache counts as down: the database decides
    headers = his.headers(nonce="n-456")
    ok(his.call("9001", SIGN_IN, **headers))
    refused(his.call("9001", SIGN_IN, **headers), "replayed_nonce", 401)


def test_stale_timestamp_is_refused(setup):
    his = setup[0]
    refused(
        his.call("9001", SIGN_IN, **his.headers(timestamp=str(int(time.time()) - 301))),
        "stale_timestamp",
        401,
    )


def test_unknown_or_revoked_paasid_and_no_credentials_are_refused(setup, client):
    his, _person, operator, _key, terminal = setup
    stranger = HisClient(client, fixmedins_code=his.fixmedins_code, paasid="yb-unknown", secret="x")
    refused(stranger.call("9001", SIGN_IN), "unknown_paasid", 401)
    refused(his.call("9001", SIGN_IN, HTTP_X_NONE="1"), "missing_signature", 401)
    bad_key = HisClient(client, fixmedins_code=his.fixmedins_code, api_key="ybk_nope_nope")
    refused(bad_key.call("9001", SIGN_IN), "authentication_failed", 401)
    his_terminal_revoke(terminal=terminal)
    refused(his.call("9001", SIGN_IN), "unknown_paasid", 401)


def test_other_institutions_fixmedins_code_is_403(setup):
    his = setup[0]
    his.fixmedins_code = "H11010599999"
    refused(his.call("9001", SIGN_IN), "other_institution", 403)


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not json", "not_json"), (b"[1, 2]", "bad_envelope"), ("\u00ff".encode("latin-1"), "not_json")],
)
def test_a_body_that_is_not_a_json_object_is_400(setup, body, code):
    his = setup[0]
    response = his.post_raw(body)
    refused((response.json(), response.status_code), code, 400)


@pytest.mark.parametrize("drop", ["infno", "msgid", "fixmedins_code"])
def test_an_envelope_without_its_keys_is_400(setup, drop):
    his = setup[0]
    envelope = his.envelope("9001", SIGN_IN)
    del envelope[drop]
    response = his.post_raw(json.dumps(envelope))
    refused((response.json(), response.status_code), "bad_envelope", 400)


def test_input_that_is_not_an_object_is_400(setup):
    his = setup[0]
    envelope = his.envelope("9001", SIGN_IN)
    envelope["input"] = [1]
    response = his.post_raw(json.dumps(envelope))
    refused((response.json(), response.status_code), "bad_envelope", 400)


def test_unknown_infno_is_200_with_infcode_minus_one(setup):
    his = setup[0]
    refused(his.call("9999", {"data": {}}), "unknown_infno")


def test_missing_and_wrongly_typed_fields_are_named(setup):
    his = setup[0]
    assert "signIn.ip" in refused(his.call("9001", {"signIn": {"opter_no": "0007"}}), "missing_field")
    assert "signIn.ip" in refused(
        his.call("9001", {"signIn": {"opter_no": "0007", "ip": ["x"]}}), "invalid_field"
    )
    message = refused(
        his.call("1101", {"data": {"mdtrt_cert_type": "07", "mdtrt_cert_no": "x"}}), "invalid_field"
    )
    assert "data.mdtrt_cert_type" in message


def test_money_as_strings_or_numbers_and_bad_amounts(setup):
    his, person = setup[0], setup[1]
    token, psn_no, mdtrt_id, _result = register(his, person)
    refused(his.call("2207", settle_input(psn_no, mdtrt_id, token, "abc")), "invalid_field")
    refused(his.call("2207", settle_input(psn_no, mdtrt_id, token, 1.234)), "invalid_field")
    refused(his.call("2207", settle_input(psn_no, mdtrt_id, token, "500.00")), "medfee_sumamt_mismatch")
    refused(
        his.call("2207", settle_input(psn_no, mdtrt_id, token, 582.30, preselfpay_amt="6.99")),
        "split_mismatch",
    )
    assert not Settlement.objects.exists()
    assert ok(his.call("2207", settle_input(psn_no, mdtrt_id, token, 582.30)))["setlinfo"]["psn_cash_pay"]


def test_fee_amount_must_be_cnt_times_pric_and_serial_numbers_unique(setup):
    his, person = setup[0], setup[1]
    token, psn_no, mdtrt_id, _result = register(his, person)
    again = fee_input(mdtrt_id, psn_no)
    refused(his.call("2204", again), "duplicate_feedetl_sn")
    wrong = fee_input(mdtrt_id, psn_no, [("XJ01CAA040A001", "x", "2", "25.00")], first_sn=9)
    wrong["feedetail"][0]["det_item_fee_sumamt"] = "49.99"
    refused(his.call("2204", wrong), "fee_amount_mismatch")
    # 2205 cancels a batch; the visit then has no fees to settle
    ok(his.call("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": psn_no}}))
    refused(his.call("2207", settle_input(psn_no, mdtrt_id, token, "0.00")), "no_fees")


def test_retried_msgid_gets_the_stored_answer_and_never_settles_twice(setup):
    his, person = setup[0], setup[1]
    token, psn_no, mdtrt_id, _result = register(his, person)
    msgid = his.msgid()
    first = his.call("2207", settle_input(psn_no, mdtrt_id, token, "582.30"), msgid=msgid)
    again = his.call("2207", settle_input(psn_no, mdtrt_id, token, "582.30"), msgid=msgid)
    assert ok(first) and again == first
    assert Settlement.objects.count() == 1
    # money is a JSON number with two decimals, as the interface writes it
    raw = his.post_raw(
        json.dumps(his.envelope("2207", settle_input(psn_no, mdtrt_id, token, "582.30"), msgid=msgid)),
        path="/his/v1/2207",
    ).content.decode()
    assert '"medfee_sumamt":582.30,' in raw and '"hifp_pay":181.50,' in raw and '"acct_pay":0.00,' in raw
    assert HisMessage.objects.get(msgid=msgid).state == "done"


def test_1101_by_id_number_and_name(setup):
    his, person = setup[0], setup[1]
    out = ok(
        his.call(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": person.name}},
        )
    )
    base = out["baseinfo"]
    assert base["certno"] == person.id_number and base["psn_name"] == person.name
    assert base["brdy"] == person.birth_date.isoformat()
    assert base["gend"] == ("1" if int(person.id_number[16]) % 2 else "2")
    insu = out["insuinfo"][0]
    assert insu["insutype"] == "310" and insu["psn_type"] and len(insu["insuplc_admdvs"]) == 6
    assert out["idetinfo"] == []
    from django.db import connection

    with connection.cursor() as cursor:  # the kept answer holds the identity: encrypted at rest
        cursor.execute("SELECT answer FROM his_hismessage")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert person.id_number not in stored and person.name not in stored
    refused(
        his.call(
            "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": "别人"}}
        ),
        "person_not_found",
    )


def test_1101_read_is_audited_and_a_bad_code_is_refused_and_recorded(setup):
    from core.models import AuditEvent
    from ecode.models import CodeEvent

    his, person = setup[0], setup[1]
    ok(his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": ecode_token(person)}}))
    assert AuditEvent.objects.filter(action="his.person_read", target_id=str(person.pk)).count() == 1
    before = CodeEvent.objects.count()
    refused(
        his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "1" * 227}}),
        "unsupported_version",
    )
    assert CodeEvent.objects.count() == before + 1


def test_2201_for_another_persons_code_is_refused(setup):
    his, person = setup[0], setup[1]
    from tests.factories import person_factory

    other = person_factory()
    psn_no = ok(
        his.call(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": other.id_number, "psn_name": other.name}},
        )
    )["baseinfo"]["psn_no"]
    refused(his.call("2201", visit_input(psn_no, ecode_token(person))), "no_filing_here")


def test_other_methods_and_deep_nesting_get_the_envelope(setup, client):
    his = setup[0]
    response = client.get("/his/v1/9001")
    refused((response.json(), response.status_code), "method_not_allowed", 405)
    response = his.post_raw(b"[" * 100000 + b"]" * 100000)
    refused((response.json(), response.status_code), "not_json", 400)


def test_rows_of_the_wrong_shape_are_named(setup):
    his, person = setup[0], setup[1]
    token, psn_no, mdtrt_id, _result = register(his, person)
    assert "feedetail" in refused(his.call("2204", {"feedetail": ["x"]}), "invalid_field")
    assert "data" in refused(his.call("2207", {"data": [1]}), "invalid_field")
    assert "feedetail[0].cnt" in refused(
        his.call(
            "2204",
            {"feedetail": [{**fee_input(mdtrt_id, psn_no)["feedetail"][0], "feedetl_sn": "X", "cnt": "NaN"}]},
        ),
        "invalid_field",
    )


def test_quantities_and_prices_beyond_their_places_or_sizes_are_refused(setup):
    his, person = setup[0], setup[1]
    token, psn_no, mdtrt_id, _result = register(his, person)
    row = fee_input(mdtrt_id, psn_no)["feedetail"][0]
    for sn, change, field in (
        ("A", {"cnt": "1.00001"}, "cnt"),
        ("B", {"pric": "1.0000001"}, "pric"),
        ("C", {"cnt": "1e15", "det_item_fee_sumamt": "1.00"}, "cnt"),
    ):
        message = refused(
            his.call("2204", {"feedetail": [{**row, "feedetl_sn": sn, **change}]}), "invalid_field"
        )
        assert f"feedetail[0].{field}" in message
