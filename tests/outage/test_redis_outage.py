"""Redis goes away mid-flow and comes back (issue #13), end to end.

One redis-server of the test's own is the cache and the broker of this process and of a real Celery worker.
People sign in, counters verify, use codes and settle, with Redis up and then with Redis stopped; then Redis
starts again, empty. Nothing answers a 5xx (sign-in limits degrade to the database); the worker keeps running; every notification and every supervision check is delivered exactly once
(beat's sweeps are sent by the test); a person's two-city use within two hours is flagged whether or not Redis
was up.
"""

import contextlib
import time

import pytest

from config.settings.base import redis_cache
from core.models import DeferredTask
from core.tasks import sweep_deferred
from ecode.services import token_issue
from filing.dates import today
from notifications.models import Delivery
from notifications.services import notification_create
from notifications.tasks import sweep_pending
from settlement.models import SupervisionFlag
from tests.ecode.factories import credential_factory
from tests.factories import PASSWORD, person_factory
from tests.notifications.test_worker import _all_settled, _assert_each_delivery_sent_exactly_once
from tests.settlement import factories as f
from tests.workers import WAIT_SECONDS, Worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ECODE = "/api/v1/ecode/"
SETTLE = "/api/v1/settlements/"
# The worker's sweeps treat a row as overdue after a second, so that the test need not wait minutes.
FAST_SWEEPS = {"NOTIFICATION_PENDING_TIMEOUT_SECONDS": "1", "DEFERRED_TASK_PENDING_TIMEOUT_SECONDS": "1"}


@pytest.fixture
def redis_everywhere(broker, settings):
    """This process's cache on the test's Redis too, as production configures it."""
    settings.CACHES = {"default": redis_cache(broker.url, prefix="yibao-outage")}
    return broker


@pytest.fixture
def worker(redis_everywhere, tmp_path, settings):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    settings.NOTIFICATION_OUTBOX_DIR = outbox
    started = Worker(broker=redis_everywhere, outbox=outbox, **FAST_SWEEPS)
    yield started
    started.stop()


def _everything_done() -> bool:
    return _all_settled() and not DeferredTask.objects.exclude(status="done").exists()


def _sweep_until_everything_is_done(worker: Worker) -> None:
    """What beat does every minute, every 1.5 s here, until every delivery and deferred task is done."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not _everything_done():
        assert time.monotonic() < deadline, (
            list(DeferredTask.objects.values_list("status", "attempts", "last_error")),
            worker.log(),
        )
        with contextlib.suppress(Exception):  # this process may still be reconnecting
            sweep_pending.delay()
            sweep_deferred.delay()
        time.sleep(1.5)


def _visit(api_client, counter_client, *, person, credential, shanghai_key, beijing_key) -> dict:
    """A person signs in; their code is checked and used in Shanghai, then used and settled in Beijing; the
    Beijing code is offered again. Returns each answer."""
    answers = {}
    answers["sign_in"] = api_client.post(
        "/api/v1/auth/token", {"phone": person.phone, "password": PASSWORD}, format="json"
    )
    shanghai, beijing = counter_client(shanghai_key), counter_client(beijing_key)
    answers["verify"] = shanghai.post(
        ECODE + "verify", {"token": token_issue(credential=credential).token}, format="json"
    )
    # (filed for Beijing: in Shanghai the code is used only as an emergency)
    answers["consume_shanghai"] = shanghai.post(
        ECODE + "consume",
        {"token": token_issue(credential=credential).token, "emergency": True},
        format="json",
    )
    token = answers["beijing_token"] = token_issue(credential=credential).token
    answers["consume_beijing"] = beijing.post(ECODE + "consume", {"token": token}, format="json")
    use_id = answers["consume_beijing"].json().get("use_id")
    answers["settle"] = beijing.post(
        SETTLE,
        {
            "use_id": use_id,
            "visit_type": "general_outpatient",
            "visit_date": today().isoformat(),
            "items": f.api_items(("XJ01CAA040A001", 2, "25.00")),
        },
        format="json",
    )
    answers["consume_again"] = beijing.post(ECODE + "consume", {"token": token}, format="json")
    return answers


def _assert_served(answers: dict) -> None:
    sign_in = answers["sign_in"]
    # Signed in: the sign-in limits are kept in the database while Redis is away.
    assert sign_in.status_code == 200, sign_in.content
    assert answers["verify"].status_code == 200 and answers["verify"].json()["valid"] is True
    for name in ("consume_shanghai", "consume_beijing"):
        assert answers[name].status_code == 200, (name, answers[name].content)
        assert answers[name].json()["use_id"]
    assert answers["settle"].status_code == 201, answers["settle"].content
    assert answers["consume_again"].status_code == 422
    assert answers["consume_again"].json()["code"] == "already_used"


def test_redis_stops_mid_flow_nothing_fails_and_everything_is_delivered_once(
    worker, redis_everywhere, api_client, counter_client, client
):
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    _beijing_operator, beijing_key = f.counter()
    _shanghai_operator, shanghai_key = f.counter(f.hospital(region_code="310000", area="310104"))
    people = [person_factory(email=f"outage{i}@example.com") for i in range(2)]
    credentials = []
    for person in people:
        f.filed(person)
        credentials.append(credential_factory(person=person))
    visit = {"shanghai_key": shanghai_key, "beijing_key": beijing_key}

    # Redis up.
    before = _visit(api_client, counter_client, person=people[0], credential=credentials[0], **visit)
    _assert_served(before)
    assert before["sign_in"].status_code == 200

    # Redis goes away: cache and broker at once.
    redis_everywhere.stop()
    during = _visit(api_client, counter_client, person=people[1], credential=credentials[1], **visit)
    _assert_served(during)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "unavailable", "broker": "unavailable"},
    }
    # The settlement's check and its notifications wait in their outboxes.
    assert (
        DeferredTask.objects.get(kwargs={"settlement_id": during["settle"].json()["id"]}).status == "pending"
    )
    assert Delivery.objects.filter(status="pending").exists()
    assert worker.running(), worker.log()

    # Redis comes back, empty: whatever it held is gone, and the sweeps queue it again from the outboxes.
    redis_everywhere.start()
    # The code used while Redis was away stays used (the database decided, and decides again).
    again = counter_client(beijing_key).post(
        ECODE + "consume", {"token": during["beijing_token"]}, format="json"
    )
    assert again.status_code == 422 and again.json()["code"] == "already_used"
    _sweep_until_everything_is_done(worker)

    assert worker.running(), worker.log()
    _assert_each_delivery_sent_exactly_once(worker.log_path.parent, worker)
    settled = sorted([before["settle"].json()["id"], during["settle"].json()["id"]])
    checks = DeferredTask.objects.filter(handler="settlement.services.supervision_check")
    assert sorted(task.kwargs["settlement_id"] for task in checks) == settled
    assert {(task.status, task.attempts) for task in checks} == {("done", 1)}
    # The two-city use within two hours is flagged for both people, Redis up or not.
    assert sorted(
        SupervisionFlag.objects.filter(kind="multi_city").values_list("settlement_id", flat=True)
    ) == (settled)
    assert client.get("/readyz").json()["status"] == "ok"


def test_the_worker_survives_repeated_outages_with_tasks_in_flight(worker, redis_everywhere):
    # Before config/broker.py the worker exited in some of these (kombu 5.7: "Unrecoverable error"; the
    # deterministic test of that is test_broker_transport.py).
    people = [person_factory(email=f"many{i}@example.com") for i in range(10)]
    for cycle in range(6):
        for _ in range(3):
            for person in people:
                notification_create(person=person, event="filing_approved", context={"filing_id": person.pk})
        time.sleep(0.05 * (cycle % 4))  # stop Redis at different points of the deliveries
        redis_everywhere.stop()
        time.sleep(1)
        redis_everywhere.start()
        time.sleep(3)
        assert worker.running(), (cycle, worker.log())
    _sweep_until_everything_is_done(worker)
    assert worker.running(), worker.log()
    _assert_each_delivery_sent_exactly_once(worker.log_path.parent, worker)
