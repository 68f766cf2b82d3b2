"""Settings of the Celery worker that the worker tests start: the test settings, plus what each test passes in
the environment (broker, outbox directory); email is written to files there so the test can count it."""

from pathlib import Path

from config.settings.test import *  # noqa: F403
from config.settings.test import REDIS_URL, env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
NOTIFICATION_OUTBOX_DIR = Path(env("NOTIFICATION_OUTBOX_DIR"))
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(NOTIFICATION_OUTBOX_DIR / "email")
