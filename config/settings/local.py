"""The embedded default: SQLite, local-memory cache, Celery tasks run in-process; no other service needed.

The keys below are public development keys: fine for a laptop, never for real personal data. The production
settings refuse to start without real ones.
"""

import base64
import hashlib

from .base import *  # noqa: F403
from .base import env


def _dev_key(label: str, size: int) -> str:
    return base64.urlsafe_b64encode(
        hashlib.sha256(b"yibao-development-only:" + label.encode()).digest()[:size]
    ).decode()


DEBUG = env("DEBUG", "1") == "1"
SECRET_KEY = env("SECRET_KEY", "django-insecure-yibao-local-development-only")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")  # noqa: F405
PII_ENCRYPTION_KEY = env("PII_ENCRYPTION_KEY", _dev_key("pii", 32))
ECODE_KEK = env("ECODE_KEK", _dev_key("ecode-kek", 32))
ECODE_SUBJECT_KEY = env("ECODE_SUBJECT_KEY", _dev_key("ecode-subject", 16))

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tasks run in the web process so `make run` needs nothing else; production runs a worker and beat on Redis.
CELERY_TASK_ALWAYS_EAGER = env("CELERY_TASK_ALWAYS_EAGER", "1") == "1"
CELERY_TASK_EAGER_PROPAGATES = False
# A host in the URL: kombu warns "No hostname was supplied" on every publish to a bare "memory://".
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "memory://localhost/")
NOTIFICATION_OUTBOX_DIR = BASE_DIR / "var" / "outbox"  # noqa: F405
# In-process tasks would log every success ("Task ... succeeded in 0.01s") between the lines people read; a
# failing task is still logged (at ERROR).
LOGGING = {  # noqa: F405
    **LOGGING,  # noqa: F405
    "loggers": {
        **LOGGING["loggers"],  # noqa: F405
        "celery.app.trace": {"level": env("CELERY_TASK_LOG_LEVEL", "WARNING")},
    },
}
