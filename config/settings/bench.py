"""HTTP benchmark (bench/bench_ecode_http.py): production-like request path on PostgreSQL and Redis.

Persistent database connections and no debug, as in production; no TLS redirect, a bench-only URLconf that
adds a bare DRF endpoint to compare against, and its own database (BENCH_DATABASE_NAME, default yibao_bench).
"""

import warnings

from .local import *  # noqa: F403
from .local import database, env

DEBUG = False
DATABASES = {"default": database(env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))}
DATABASES["default"]["NAME"] = env("BENCH_DATABASE_NAME", "yibao_bench")
DATABASES["default"]["CONN_MAX_AGE"] = 60
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/2")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "yibao-bench",
    }
}
CELERY_BROKER_URL = REDIS_URL
ROOT_URLCONF = "config.bench_urls"
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a benchmark
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # Refused codes are expected in a benchmark; one warning line per request would measure the terminal.
    "loggers": {"django.request": {"level": "ERROR"}},
}
