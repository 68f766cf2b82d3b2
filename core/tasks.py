"""Celery tasks of the deferred-work outbox (`core.deferred`): run one row, and sweep the ones left behind; and
the daily removal of expired web sessions."""

from celery import shared_task
from django.core.management import call_command

from .deferred import deferred_run, deferred_sweep


@shared_task(name="core.tasks.run_deferred", acks_late=True, ignore_result=True)
def run_deferred(deferred_id: int) -> str | None:
    """Runs one deferred row's handler, at most once per claim (a duplicate finds nothing to claim)."""
    return deferred_run(deferred_id=deferred_id)


@shared_task(name="core.tasks.sweep_deferred", acks_late=True, ignore_result=True)
def sweep_deferred() -> int:
    """Queues deferred rows left pending or running too long (run by Celery beat every minute)."""
    return deferred_sweep()


@shared_task(name="core.tasks.clear_sessions", acks_late=True, ignore_result=True)
def clear_sessions() -> None:
    """Deletes expired web sessions (Django's `clearsessions`; run by Celery beat every night)."""
    call_command("clearsessions")
