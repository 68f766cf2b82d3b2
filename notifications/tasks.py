"""Celery tasks: deliver one outbox row, and sweep the ones left behind. Tasks take ids, never instances."""

from celery import shared_task

from .services import deliveries_sweep, delivery_send


@shared_task(
    bind=True, name="notifications.tasks.deliver", acks_late=True, ignore_result=True, max_retries=None
)
def deliver(self, delivery_id: int) -> None:
    """Sends one delivery; a failure is retried with exponential backoff until the attempt budget is spent."""
    attempt = delivery_send(delivery_id=delivery_id)
    if attempt is not None and attempt.retry_in is not None:
        # If this publish fails too, the row is still pending with its due time, and the sweep picks it up.
        raise self.retry(countdown=attempt.retry_in)


@shared_task(name="notifications.tasks.sweep_pending", acks_late=True, ignore_result=True)
def sweep_pending() -> int:
    """Re-queues deliveries still pending after NOTIFICATION_PENDING_TIMEOUT_SECONDS (run by Celery beat)."""
    return deliveries_sweep()
