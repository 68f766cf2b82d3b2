"""Settings shared by every environment; each value that differs per deployment comes from the environment."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


SECRET_KEY = env("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "reference",
    "accounts",
    "filing",
    "ecode",
    "notifications",
    "settlement",
    "his",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "core.middleware.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ReplicaMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# One backend for every password sign-in (people by phone, staff by username), throttled by accounts.signin.
AUTHENTICATION_BACKENDS = ["accounts.backends.SignInBackend"]
LOGIN_URL = "web:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database(url: str) -> dict:
    """The DATABASES entry for ``url``. On PostgreSQL, parameters are bound on the server and a statement run
    DB_PREPARE_THRESHOLD times (default 5) on a connection is prepared there: the hot queries (a counter's
    check, sign-in) then skip planning. DB_PREPARE_THRESHOLD=off turns preparing off, for a pooler in
    transaction mode that cannot keep prepared statements (PgBouncer before 1.21). DB_TRANSACTION_POOLING=1:
    behind such a pooler, where a cursor left open between transactions may be on another server connection
    by the next fetch, so `.iterator()` fetches in chunks through client-side cursors instead."""
    config = dj_database_url.parse(url)
    config["ATOMIC_REQUESTS"] = False
    config["CONN_MAX_AGE"] = int(env("DB_CONN_MAX_AGE", "0"))
    config["DISABLE_SERVER_SIDE_CURSORS"] = env("DB_TRANSACTION_POOLING", "0") == "1"
    if config["ENGINE"] == "django.db.backends.postgresql":
        threshold = env("DB_PREPARE_THRESHOLD", "5")
        config.setdefault("OPTIONS", {}).update(
            server_side_binding=True,
            prepare_threshold=None if threshold.lower() in ("", "off", "none") else int(threshold),
        )
    return config


DATABASES = {"default": database(env("DATABASE_URL", "sqlite:///" + str(BASE_DIR / "db.sqlite3")))}


def replica_database(url: str) -> dict:
    """The DATABASES entry of a streaming replica at ``url`` (core.db): a replica that does not answer within
    2 s counts as away (its reads go to the primary), and its tests run on the primary's test database."""
    config = database(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["OPTIONS"].setdefault("connect_timeout", 2)
    config["TEST"] = {"MIRROR": "default"}
    return config


# Optional: a streaming replica of DATABASE_URL for the reads that may be a moment old (core.db,
# docs/scaling.md). Who just wrote reads the primary for REPLICA_PIN_SECONDS; a replica further behind than
# REPLICA_MAX_LAG_SECONDS, or not answering, is not read (a failed one is retried after REPLICA_RETRY_SECONDS).
if env("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = replica_database(env("DATABASE_REPLICA_URL"))
DATABASE_ROUTERS = ["core.db.PrimaryReplicaRouter"]
REPLICA_PIN_SECONDS = int(env("REPLICA_PIN_SECONDS", "5"))
REPLICA_MAX_LAG_SECONDS = float(env("REPLICA_MAX_LAG_SECONDS", "30"))
REPLICA_RETRY_SECONDS = float(env("REPLICA_RETRY_SECONDS", "5"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_cache(url: str, *, prefix: str = "") -> dict:
    """The CACHES entry for Redis at `url`. Short socket timeouts: a Redis that went away (even one whose
    packets are dropped) costs a request a second at most, and `core.cache` then skips it for a while."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": prefix,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded filing documents live outside any public path and are served only through views that check access.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "var" / "private")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- Personal data and e-code secrets (URL-safe base64 strings) ---
PII_ENCRYPTION_KEY = env("PII_ENCRYPTION_KEY")
PII_ENCRYPTION_KEY_VERSION = int(env("PII_ENCRYPTION_KEY_VERSION", "1"))
# Older keys kept for reading rows written before a rotation: "1:<key>,2:<key>".
PII_ENCRYPTION_OLD_KEYS = env("PII_ENCRYPTION_OLD_KEYS", "")
ECODE_KEK = env("ECODE_KEK")
ECODE_SUBJECT_KEY = env("ECODE_SUBJECT_KEY")
# After a rotation of ECODE_SUBJECT_KEY, the previous key ("1:<key>,...") for the minutes its codes still live.
ECODE_SUBJECT_OLD_KEYS = env("ECODE_SUBJECT_OLD_KEYS", "")
ECODE_TOKEN_TTL_SECONDS = 120
ECODE_REFRESH_AFTER_SECONDS = 30

# --- Sign-in (accounts.signin, accounts.tokens; docs/security.md) ---
# Failed sign-ins are counted per account (every spelling of its phone or username) and per client address;
# reaching the limit refuses every sign-in of that account, or from that address, for LOGIN_LOCKOUT_SECONDS.
LOGIN_MAX_FAILURES = int(env("LOGIN_MAX_FAILURES", "5"))
LOGIN_MAX_FAILURES_PER_ADDRESS = int(env("LOGIN_MAX_FAILURES_PER_ADDRESS", "50"))
LOGIN_LOCKOUT_SECONDS = int(env("LOGIN_LOCKOUT_SECONDS", "900"))
# How many reverse proxies of ours stand in front of the web process, each appending the address it received
# a request from to X-Forwarded-For: the client is the entry that many places from the right. 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))
# Bearer tokens (insured people only): refused after AUTH_TOKEN_IDLE_HOURS without use, and in any case
# AUTH_TOKEN_MAX_AGE_HOURS after sign-in.
AUTH_TOKEN_IDLE_HOURS = int(env("AUTH_TOKEN_IDLE_HOURS", "168"))
AUTH_TOKEN_MAX_AGE_HOURS = int(env("AUTH_TOKEN_MAX_AGE_HOURS", "720"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "yibao API",
    "DESCRIPTION": "Cross-provincial medical-insurance filing, e-code verification and direct settlement.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the docs must work without third-party hosts.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker that does not answer within 2 s counts as away: the request that publishes moves on (its work waits
# in an outbox for the sweep). config/broker.py: the Redis transport keeps the worker alive through outages.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600, "socket_connect_timeout": 2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE = {
    "notifications-sweep": {"task": "notifications.tasks.sweep_pending", "schedule": 60.0},
    "deferred-sweep": {"task": "core.tasks.sweep_deferred", "schedule": 60.0},
    # Expired sessions are not kept: Django deletes them only when asked.
    "sessions-clear": {"task": "core.tasks.clear_sessions", "schedule": crontab(minute=20, hour=3)},
    "filing-expire": {"task": "filing.tasks.expire_filings", "schedule": crontab(minute=5, hour=0)},
    "filing-expiry-reminders": {
        "task": "filing.tasks.remind_expiring",
        "schedule": crontab(minute=0, hour=9),
    },
    "settlement-monthly-clearing": {
        "task": "settlement.tasks.build_monthly_clearing",
        "schedule": crontab(minute=30, hour=1, day_of_month=1),
    },
    # Makes up for a run lost while the broker was down: builds the month only if nothing was built since
    # it ended.
    "settlement-monthly-clearing-catch-up": {
        "task": "settlement.tasks.build_monthly_clearing",
        "schedule": crontab(minute=45, hour="*/6", day_of_month="1-3"),
        "kwargs": {"if_missing": True},
    },
    # Creates the coming months' partitions and retires those past their retention (core.partitions).
    "partitions-maintain": {"task": "core.tasks.maintain_partitions", "schedule": crontab(minute=20, hour=2)},
}

# --- Deferred work (core.deferred): outbox rows of work that runs after a commit (the supervision check) ---
DEFERRED_TASK_MAX_ATTEMPTS = int(env("DEFERRED_TASK_MAX_ATTEMPTS", "5"))
# A pending row not run this long after it fell due is queued again by the sweep (the broker was down).
DEFERRED_TASK_PENDING_TIMEOUT_SECONDS = int(env("DEFERRED_TASK_PENDING_TIMEOUT_SECONDS", "120"))
# A row left running this long (its worker died) is run again.
DEFERRED_TASK_RUNNING_TIMEOUT_SECONDS = int(env("DEFERRED_TASK_RUNNING_TIMEOUT_SECONDS", "300"))
DEFERRED_TASK_KEEP_DAYS = int(env("DEFERRED_TASK_KEEP_DAYS", "7"))

# --- Monthly partitions of the append-only tables (PostgreSQL; core.partitions, docs/scaling.md) ---
# Partitions are created this many months ahead by the daily beat task (and the migrations).
PARTITION_MONTHS_AHEAD = int(env("PARTITION_MONTHS_AHEAD", "3"))
# Months kept online per partitioned table; older months are archived to PARTITION_ARCHIVE_DIR and dropped.
# E-code uses live in their own partition (ecode_codeevent_use), never retired: settlement and clearing need them.
PARTITION_RETENTION_MONTHS = {
    "ecode_codeevent_check": int(env("PARTITION_RETENTION_CHECKS", "13")),
    "notifications_delivery": int(env("PARTITION_RETENTION_DELIVERIES", "13")),
    "core_auditevent": int(env("PARTITION_RETENTION_AUDIT", "120")),
}
PARTITION_ARCHIVE_DIR = env("PARTITION_ARCHIVE_DIR") or str(BASE_DIR / "var" / "archive")

# --- Notifications ---
NOTIFICATION_SMS_BACKEND = env("NOTIFICATION_SMS_BACKEND", "notifications.providers.ConsoleProvider")
NOTIFICATION_WECHAT_BACKEND = env("NOTIFICATION_WECHAT_BACKEND", "notifications.providers.ConsoleProvider")
NOTIFICATION_MAX_ATTEMPTS = int(env("NOTIFICATION_MAX_ATTEMPTS", "5"))
NOTIFICATION_PENDING_TIMEOUT_SECONDS = int(env("NOTIFICATION_PENDING_TIMEOUT_SECONDS", "120"))
FILING_EXPIRY_REMINDER_DAYS = int(env("FILING_EXPIRY_REMINDER_DAYS", "15"))
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "noreply@yibao.example")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_NAME = "yibao_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Notification delivery (notifications app) ---
# Backoff after the n-th failed attempt: BASE * 2**(n-1) seconds, at most MAX (kept below the broker's
# visibility timeout so a delayed retry is not redelivered early).
NOTIFICATION_RETRY_BASE_SECONDS = float(env("NOTIFICATION_RETRY_BASE_SECONDS", "2"))
NOTIFICATION_RETRY_MAX_SECONDS = float(env("NOTIFICATION_RETRY_MAX_SECONDS", "300"))
# A delivery claimed by a worker that died mid-send is queued again after this long.
NOTIFICATION_SENDING_TIMEOUT_SECONDS = int(env("NOTIFICATION_SENDING_TIMEOUT_SECONDS", "300"))
# FileProvider/ConsoleProvider outbox; the local and test settings set their own.
NOTIFICATION_OUTBOX_DIR = env("NOTIFICATION_OUTBOX_DIR")

# --- Fund supervision (settlement app): when a settlement is flagged for review; flags never block ---
SETTLEMENT_SUPERVISION = {
    "MULTI_CITY_HOURS": int(env("SUPERVISION_MULTI_CITY_HOURS", "2")),
    "MAX_SETTLEMENTS_PER_PERSON_PER_DAY": int(env("SUPERVISION_MAX_PER_PERSON_PER_DAY", "3")),
    "INSTITUTION_VOLUME_FACTOR": int(env("SUPERVISION_INSTITUTION_VOLUME_FACTOR", "3")),
    "INSTITUTION_VOLUME_MIN": int(env("SUPERVISION_INSTITUTION_VOLUME_MIN", "20")),
    "INSTITUTION_TRAILING_DAYS": 30,
}

# --- API schema (filing app): a filing document's `kind` is not an institution's `kind` ---
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "DocumentKindEnum": "filing.choices.DocumentKind",
}
