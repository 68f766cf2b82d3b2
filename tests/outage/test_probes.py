"""/readyz tells the load balancer what works: ok, degraded (Redis away, still serving) or down (no database).

/healthz stays ok through all of it: it says the process is alive, and a supervisor restarts the process only
when it is not.
"""

import pytest
from django.db import connection

from tests.workers import _free_port

pytestmark = pytest.mark.django_db


def test_readyz_says_degraded_while_the_broker_is_away_and_ok_once_it_is_back(broker, client):
    assert client.get("/readyz").json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }
    broker.stop()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "ok", "broker": "unavailable"},
    }
    assert client.get("/healthz").status_code == 200
    broker.start()
    assert client.get("/readyz").json()["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_readyz_says_down_with_a_503_while_the_database_is_away(client):
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(_free_port(5500))  # nothing listens there
    try:
        ready, alive = client.get("/readyz"), client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "down",
        "checks": {"database": "unavailable", "cache": "ok", "broker": "in_process"},
    }
    assert alive.status_code == 200
