"""A settlement while the broker is away (issue #13): the counter gets its settlement, and the supervision
check waits in the outbox instead of being lost."""

import pytest

from core.deferred import deferred_run
from core.models import DeferredTask
from filing.dates import today
from settlement.models import Settlement, SupervisionFlag
from tests.factories import person_factory
from tests.settlement import factories as f

# Real commits: the after-commit hooks run as they do in production.
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_settlement_while_the_broker_is_away_answers_the_settlement_and_is_checked_later(
    broker, counter_client
):
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    f.filed(person)
    beijing, key = f.counter()
    shanghai, _ = f.counter(f.hospital(region_code="310000", area="310104"))
    f.consumed_use(person, shanghai, emergency=True)  # the same person's code was used in Shanghai just now
    use_id = f.consumed_use(person, beijing)

    broker.stop()
    response = counter_client(key).post(
        "/api/v1/settlements/",
        {
            "use_id": use_id,
            "visit_type": "general_outpatient",
            "visit_date": today().isoformat(),
            "items": f.api_items(("XJ01CAA040A001", 2, "25.00")),
            "request_no": "R-1",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    settlement = Settlement.objects.get()
    assert response.json()["id"] == settlement.pk and response.json()["total"] == "50.00"

    # The check was recorded with the settlement and waits; no flag yet.
    check = DeferredTask.objects.get(kwargs={"settlement_id": settlement.pk})
    assert (check.status, check.handler) == ("pending", "settlement.services.supervision_check")
    assert not SupervisionFlag.objects.exists()

    # Once a worker runs it (queued by the sweep when the broker is back), the two-city use is flagged.
    broker.start()
    assert deferred_run(deferred_id=check.pk) == "done"
    assert SupervisionFlag.objects.get(kind="multi_city").settlement_id == settlement.pk
