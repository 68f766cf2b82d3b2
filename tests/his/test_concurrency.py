"""Concurrent duplicates of one msgid on PostgreSQL: one settles, the others get its answer or [in_progress]."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from settlement.models import Settlement
from tests.his.client import HisClient
from tests.his.helpers import settle_input, world
from tests.his.test_outpatient import register

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="real concurrency needs PostgreSQL")
def test_concurrent_retries_of_one_msgid_settle_once():
    person, operator, _key, terminal, secret = world()
    his = HisClient(Client(), fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret)
    token, psn_no, mdtrt_id, _result = register(his, person)
    msgid = his.msgid()
    body = json.dumps(his.envelope("2207", settle_input(psn_no, mdtrt_id, token, "582.30"), msgid=msgid))
    barrier = threading.Barrier(6)
    answers = []

    def send():
        try:
            own = HisClient(Client(), fixmedins_code=his.fixmedins_code, paasid=his.paasid, secret=his.secret)
            barrier.wait()
            response = own.post_raw(body, path="/his/v1/2207")
            answers.append((response.status_code, response.content.decode()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Settlement.objects.count() == 1
    assert len(answers) == 6 and all(status == 200 for status, _text in answers)
    settled = [text for _status, text in answers if json.loads(text)["infcode"] == 0]
    others = [json.loads(text) for _status, text in answers if json.loads(text)["infcode"] != 0]
    assert settled and len(set(settled)) == 1  # every success is the one stored answer, byte for byte
    assert all(o["err_msg"].startswith("[in_progress] ") for o in others)
    # a retry afterwards gets that same answer
    again = HisClient(Client(), fixmedins_code=his.fixmedins_code, paasid=his.paasid, secret=his.secret)
    assert again.post_raw(body, path="/his/v1/2207").content.decode() == settled[0]
