"""Celery tasks of the e-code: write the check journal to PostgreSQL (see ecode.journal)."""

from celery import shared_task

from . import journal


@shared_task(name="ecode.tasks.flush_checks", ignore_result=True)
def flush_checks() -> int:
    """Write the verifies waiting in Redis to PostgreSQL (run by Celery beat, and when many are waiting)."""
    return journal.flush()
