"""The embedded default under test (`make test`'s second run: `pytest --ds=config.settings.test_embedded -m
embedded`): SQLite in a file, the local-memory cache and Celery tasks in the process, as `make run` has them."""

from .local import *  # noqa: F403
from .local import BASE_DIR, database, env

DEBUG = False
# Whatever DATABASE_URL, REDIS_URL or CELERY_* the environment holds for the PostgreSQL run.
DATABASES = {"default": database("sqlite:///" + str(BASE_DIR / "var" / "embedded.sqlite3"))}
# Parallel runs (several engineers on one machine) keep their own file, as their own PostgreSQL database.
DATABASES["default"]["TEST"] = {
    "NAME": str(BASE_DIR / "var" / f"{env('TEST_DATABASE_NAME', 'test_yibao')}-embedded.sqlite3")
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PRIVATE_MEDIA_ROOT = BASE_DIR / "var" / "test-private"
NOTIFICATION_OUTBOX_DIR = BASE_DIR / "var" / "test-outbox"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGIN_MAX_FAILURES = 5
