"""2501/2502: a hospital of the insured area files a referral; the area approves it as any filing; then the
destination's hospital settles directly. Only the referring hospital may withdraw it."""

import pytest

from filing.dates import today
from filing.models import Filing
from filing.services import filing_approve
from his.services import his_terminal_create
from tests.factories import ReviewerFactory
from tests.his.client import HisClient
from tests.his.helpers import ecode_token, visit_input, world
from tests.his.test_outpatient import ok, refused
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def hospital_client(client, institution):
    operator, _key = f.counter(institution)
    terminal, secret = his_terminal_create(operator=operator, name="HIS")
    return HisClient(client, fixmedins_code=institution.code, paasid=terminal.paasid, secret=secret)


def referral(psn_no, **extra):
    return {
        "refmedin": {
            "psn_no": psn_no,
            "insutype": "310",
            "diag_code": "C34.900",
            "diag_name": "肺恶性肿瘤",
            "dise_cond_dscr": "需上级医院进一步治疗",
            "reflin_medins_no": "",
            "mdtrtarea_admdvs": "110000",
            "hosp_agre_refl_flag": "1",
            "refl_type": "1",
            "refl_date": today().isoformat(),
            "refl_rea": "本院诊疗条件有限",
            "refl_opnn": "同意转诊",
            "begndate": today().isoformat(),
            "enddate": "",
            **extra,
        }
    }


def test_referral_by_the_insured_areas_hospital_then_direct_settlement_at_the_destination(client):
    person, operator, _key, terminal, secret = world(filed=False)
    beijing = HisClient(
        client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret
    )
    home = hospital_client(client, f.hospital(region_code="510100", area="510104"))
    psn_no = ok(
        home.call(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": person.name}},
        )
    )["baseinfo"]["psn_no"]
    # The destination's hospital may not file a referral for someone else's area.
    refused(beijing.call("2501", referral(psn_no)), "permission_denied")

    serial = ok(home.call("2501", referral(psn_no)))["result"]["trt_dcla_detl_sn"]
    filing = Filing.objects.get(serial=serial)
    assert (filing.group, filing.channel, filing.referral.diagnosis_code) == (
        "referral",
        "institution",
        "C34.900",
    )
    if filing.status == "submitted":
        filing_approve(filing=filing, actor=ReviewerFactory(region_code="510100"))
    filing.refresh_from_db()
    assert filing.status == "approved"
    token = ecode_token(person)
    assert ok(beijing.call("2201", visit_input(psn_no, token)))["data"]["mdtrt_id"]


def test_only_the_referring_hospital_withdraws_its_referral(client):
    person, operator, _key, terminal, secret = world(filed=False)
    beijing = HisClient(
        client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret
    )
    home = hospital_client(client, f.hospital(region_code="510100", area="510104"))
    other = hospital_client(client, f.hospital(region_code="510100", area="510105"))
    psn_no = ok(
        home.call(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": person.name}},
        )
    )["baseinfo"]["psn_no"]
    serial = ok(home.call("2501", referral(psn_no)))["result"]["trt_dcla_detl_sn"]
    cancel = {"data": {"trt_dcla_detl_sn": serial, "psn_no": psn_no, "memo": "患者放弃"}}
    refused(other.call("2502", cancel), "permission_denied")
    refused(beijing.call("2502", {"data": {"trt_dcla_detl_sn": "BA0", "psn_no": psn_no}}), "unknown_filing")
    ok(home.call("2502", cancel))
    assert Filing.objects.get(serial=serial).status == "cancelled"
    refused(home.call("2501", referral(psn_no, mdtrtarea_admdvs="510100")), "destination_in_insured_province")


def test_the_reviewer_sees_the_hospitals_referral_in_the_admin(client):
    from django.urls import reverse

    person, *_rest = world(filed=False)
    home = hospital_client(client, f.hospital(region_code="510100", area="510104"))
    psn_no = ok(
        home.call(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": person.name}},
        )
    )["baseinfo"]["psn_no"]
    filing = Filing.objects.get(serial=ok(home.call("2501", referral(psn_no)))["result"]["trt_dcla_detl_sn"])
    reviewer = ReviewerFactory(region_code="510100")
    client.force_login(reviewer)
    page = client.get(reverse("admin:filing_filing_change", args=[filing.pk])).content.decode()
    assert "C34.900" in page and "同意转诊" in page
