"""Celery tasks of the deferred-work outbox (`core.deferred`): run one row, and sweep the ones left behind; the
daily removal of expired web sessions; the monthly partitions' upkeep."""

from celery import shared_task
from django.core.management import call_command

from .deferred import deferred_run, deferred_sweep
from .partitions import partitions_ensure, partitions_retire


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


@shared_task(name="core.tasks.maintain_partitions", ignore_result=True)
def maintain_partitions() -> dict:
    """Creates the coming months' partitions and retires those past their retention (daily, by Celery beat;
    idempotent, and nothing to do on SQLite)."""
    created = partitions_ensure()
    archived = partitions_retire()
    return {"created": created, "archived": [str(path) for path in archived]}
