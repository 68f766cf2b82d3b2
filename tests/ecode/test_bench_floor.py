"""The benchmark's floors (config/bench_urls.py, served only with config.settings.bench): ``bare-record`` must do
the work it stands for, or the ratios of docs/performance.md against it mean nothing."""

import pytest

from ecode.models import CodeEvent
from ecode.services import token_issue

from .factories import counter, credential_factory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("config.bench_urls")]


@pytest.fixture
def terminal(counter_client):
    operator, key = counter(region_code="310000")
    return operator, counter_client(key)


def test_bare_record_checks_the_signature_reads_the_credential_and_records_the_check(terminal):
    operator, client = terminal
    credential = credential_factory(insured_region="510100")
    token = token_issue(credential=credential).token

    response = client.post("/bench/bare-record", {"token": token}, format="json")

    assert response.status_code == 200 and response.json() == {"ok": True}
    event = CodeEvent.objects.get()
    assert (event.kind, event.result) == ("verify", "ok")
    assert event.credential == credential and event.person == credential.person
    assert event.institution == operator.institution and event.operator == operator
    assert event.api_key_prefix == operator.api_keys.get().prefix and event.token_iat is not None


def test_bare_record_refuses_a_forged_code_and_records_nothing(terminal):
    _operator, client = terminal
    token = token_issue(credential=credential_factory()).token
    forged = token[:-1] + ("1" if token[-1] != "1" else "2")

    response = client.post("/bench/bare-record", {"token": forged}, format="json")

    assert response.status_code == 422 and response.json()["ok"] is False
    assert not CodeEvent.objects.exists()


def test_the_floors_behind_counter_authentication_refuse_anyone_else(api_client):
    for path in ("/bench/bare-counter", "/bench/bare-query", "/bench/bare-record"):
        assert api_client.post(path, {"token": "1"}, format="json").status_code in (401, 403)
    assert not CodeEvent.objects.exists()
