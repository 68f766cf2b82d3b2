"""Probes for load balancers and supervisors, and the site icon browsers ask for at /favicon.ico."""

from functools import lru_cache

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from . import db
from .cache import cache_reachable
from .deferred import broker_recovered

OK, UNAVAILABLE, IN_PROCESS = "ok", "unavailable", "in_process"


@require_GET
@never_cache
def healthz(request):
    """The process is alive; touches nothing (a supervisor restarts the process only when this fails)."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request):
    """Whether to send traffic here, and what works.

    200 `{"status": "ok"}`: the database, the cache and the broker answer. 200 `{"status": "degraded"}`: the
    database answers but the cache or the broker does not; requests are still served (the database decides
    one-use codes and sign-in limits, deferred work waits in its outbox), so the load balancer keeps this
    instance. 503 `{"status": "down"}`: the database does not answer; nothing can be served. `checks` says
    which: each of `database`, `cache`, `broker` is "ok" or "unavailable" (`broker` is "in_process" where
    tasks run in the web process, as with `make run`). With a replica configured (DATABASE_REPLICA_URL),
    `replica` is "ok", "lagging" (further behind than REPLICA_MAX_LAG_SECONDS) or "unavailable"; either of the
    latter is "degraded" too, since its reads are then served by the primary.
    """
    checks = {"database": _database(), "cache": OK if cache_reachable() else UNAVAILABLE, "broker": _broker()}
    if db.replica_configured():
        checks["replica"] = db.replica_check()
    if checks["database"] != OK:
        status, code = "down", 503
    elif UNAVAILABLE in checks.values() or checks.get("replica") == db.LAGGING:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, "checks": checks}, status=code)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means the database cannot serve
        return UNAVAILABLE
    return OK


def _broker() -> str:
    if current_app.conf.task_always_eager:
        return IN_PROCESS
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
    except Exception:  # noqa: BLE001 - any failure means tasks cannot be queued now
        return UNAVAILABLE
    broker_recovered()
    return OK


@lru_cache(maxsize=1)
def _favicon_bytes() -> bytes:
    return (settings.BASE_DIR / "static" / "favicon.ico").read_bytes()


@require_GET
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """The site icon, at the address browsers ask for when a page names none (and some ask for it anyway)."""
    return HttpResponse(_favicon_bytes(), content_type="image/x-icon")
