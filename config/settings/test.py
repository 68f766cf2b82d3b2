"""Tests run against real PostgreSQL and Redis (DATABASE_URL, REDIS_URL)."""

from .local import *  # noqa: F403
from .local import database, env, redis_cache

DEBUG = False
DATABASES = {"default": database(env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))}
# Parallel runs (several engineers on one machine) can pick their own test database.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", "test_yibao")}
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/15")
CACHES = {"default": redis_cache(REDIS_URL, prefix="yibao-test")}  # as in production
# Production gives up on a Redis call after 1 s and degrades (core.cache). On a loaded test machine a healthy
# Redis can take that long to answer, and a spurious switch to the database restarts the sign-in counts; the
# outage tests stop Redis outright (refused at once), so a longer timeout costs them nothing.
CACHES["default"]["OPTIONS"] = {
    **CACHES["default"].get("OPTIONS", {}),
    "socket_connect_timeout": 5,
    "socket_timeout": 5,
}
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = env("CELERY_TASK_ALWAYS_EAGER", "1") == "1"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PRIVATE_MEDIA_ROOT = BASE_DIR / "var" / "test-private"  # noqa: F405
NOTIFICATION_OUTBOX_DIR = BASE_DIR / "var" / "test-outbox"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGIN_MAX_FAILURES = 5
