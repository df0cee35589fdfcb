"""Settings, all read from the environment here and nowhere else.

Production (``DEBUG`` off) requires ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``CREDENTIAL_KEYS``
and refuses to start without them, naming the variable. Development (``DEBUG=true``) fills
the two secrets from ``var/dev-secrets.json``, generated on first use, so a fresh clone runs
with no setup and the demo database stays readable across restarts.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Queue
from pythonjsonlogger.core import RESERVED_ATTRS as RESERVED_LOG_ATTRS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / Path(os.environ.get("VAR_DIR", "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _dev_secrets() -> dict[str, str]:
    """Read or create the development-only secrets file (never used when DEBUG is off)."""
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


DEBUG = env_bool("DEBUG", False)
# ``make demo``: DEBUG off (real error pages), plain HTTP on localhost, development secrets.
DEMO = env_bool("DEMO", False)


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if DEBUG or DEMO:
        return _dev_secrets()[name]
    raise ImproperlyConfigured(
        f"{name} is not set. It is required when DEBUG is off; see README.md, 'Configuration'."
    )


SECRET_KEY = _required("SECRET_KEY")
# Several Fernet keys, comma-separated: the first encrypts, all decrypt (rotation).
CREDENTIAL_KEYS = [key.strip() for key in _required("CREDENTIAL_KEYS").split(",") if key.strip()]


def _check_credential_keys(keys: list[str]) -> None:
    if not keys:
        raise ImproperlyConfigured("CREDENTIAL_KEYS is empty; give at least one Fernet key.")
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # The key itself is never echoed: only its position in the list.
            raise ImproperlyConfigured(
                f"CREDENTIAL_KEYS entry {number} is not a valid Fernet key (32 url-safe "
                "base64-encoded bytes). Generate one with: python -c 'from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())'"
            ) from None


_check_credential_keys(CREDENTIAL_KEYS)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or DEMO else "")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set. It is required when DEBUG is off (comma-separated host names)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Trigram indexes for the recipient search on PostgreSQL; inert on SQLite.
    "django.contrib.postgres",
    "django_htmx",
    "axes",
    "dashboard.core",
    "dashboard.accounts",
    "dashboard.audit",
    "dashboard.connections",
    "dashboard.jobs",
    "dashboard.recipients",
    "dashboard.campaigns",
    "dashboard.imports",
    "dashboard.housekeeping",
    "dashboard.overview",
    "dashboard.demo",
    "integrations",
]

MIDDLEWARE = [
    # First: every line logged while a request is served carries its id.
    "dashboard.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Before the session: a NUL in its cookie is refused before it is looked up.
    "dashboard.core.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.accounts.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database too: the Celery worker process that tests
    # start must see the rows the test committed. One per test run, so runs can overlap.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own backend, as it ships (docs/seams.md): its health check (CONN_HEALTH_CHECKS)
    # replaces a connection the server dropped before a request uses it.
    _options: dict[str, Any] = {}
    if env_bool("DB_PREPARED_STATEMENTS", True):
        # Parameters sent apart from the SQL, and a statement a connection has run
        # DB_PREPARE_THRESHOLD times prepared: PostgreSQL stops parsing (and, for most,
        # planning) the queries every request makes (session, user, permissions, search).
        # Behind a connection pooler in transaction mode (PgBouncer before 1.21) prepared
        # statements break: set DB_PREPARED_STATEMENTS=false there.
        _options |= {
            "server_side_binding": True,
            "prepare_threshold": env_int("DB_PREPARE_THRESHOLD", 5),
        }
    if env_bool("DB_POOL", False):
        # Django's psycopg pool, one per process, created on first use: a request borrows a
        # connection (checked first, as CONN_HEALTH_CHECKS asks) and gives it back. For the
        # web server (gunicorn): DB_POOL_MAX_SIZE at least its threads. Not for Celery
        # workers: in a prefork child Celery's Django fixup closes the pool around every task.
        _options["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 8),
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
        # The pool keeps the connections; Django refuses persistent ones beside it.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), **_options}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "dashboard.accounts.backends.RoleBackend",
]
# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name
# from one address, that pair is locked out for LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# One address trying many user names (one password sprayed across accounts) is paused after
# this many wrong passwords within LOGIN_LOCKOUT_MINUTES, whatever the names
# (dashboard/accounts/views.py). Higher than the per-name limit: an office shares an address.
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]


def storage_from_environment() -> dict[str, Any]:
    """``STORAGES["default"]``, where uploads (CSV imports) are kept, from ``STORAGE_BACKEND``.

    ``filesystem`` (the default): under ``MEDIA_ROOT``, which every host running the web
    server or a worker must share (one machine, or one mounted volume). ``s3``: an
    S3-compatible bucket through django-storages (needs boto3:
    ``pip install "django-storages[s3]==1.14.6"``); boto3 reads the keys from
    ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (or the machine's role), never
    from here. Anything else with a dot: a storage class's import path. ``STORAGE_OPTIONS``
    (a JSON object) is passed to the class over these options.
    """
    raw = os.environ.get("STORAGE_BACKEND", "").strip() or "filesystem"
    try:
        extra = json.loads(os.environ.get("STORAGE_OPTIONS") or "{}")
        if not isinstance(extra, dict):
            raise TypeError
    except (json.JSONDecodeError, TypeError):
        raise ImproperlyConfigured("STORAGE_OPTIONS must be a JSON object.") from None
    if raw.lower() == "filesystem":
        # No location: the storage reads MEDIA_ROOT when it first stores a file.
        return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": extra}
    if raw.lower() == "s3":
        bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME", "").strip()
        if not bucket:
            raise ImproperlyConfigured(
                "AWS_STORAGE_BUCKET_NAME is not set. It is required with STORAGE_BACKEND=s3."
            )
        options: dict[str, Any] = {
            "bucket_name": bucket,
            "location": os.environ.get("AWS_LOCATION", "uploads").strip("/"),
            # Two uploads of "staff.csv" are two files: the second gets a suffix.
            "file_overwrite": False,
            # A file read from the bucket is kept in memory up to this, on disk beyond
            # (django-storages' default, 0, keeps a 50 MB upload in memory).
            "max_memory_size": env_int("AWS_S3_MAX_MEMORY_SIZE", 2 * 1024 * 1024),
        }
        for variable, option in (
            ("AWS_S3_ENDPOINT_URL", "endpoint_url"),
            ("AWS_S3_REGION_NAME", "region_name"),
            ("AWS_S3_ADDRESSING_STYLE", "addressing_style"),
            ("AWS_S3_SIGNATURE_VERSION", "signature_version"),
        ):
            if value := os.environ.get(variable, "").strip():
                options[option] = value
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, **extra}}
    if "." in raw:
        return {"BACKEND": raw, "OPTIONS": extra}
    raise ImproperlyConfigured(
        f"STORAGE_BACKEND must be filesystem, s3 or a storage class's import path, not {raw!r}."
    )


# Uploads on the file system (STORAGE_BACKEND=filesystem): IMPORT_UPLOAD_DIR is the older name.
MEDIA_ROOT = BASE_DIR / Path(
    os.environ.get("MEDIA_ROOT") or os.environ.get("IMPORT_UPLOAD_DIR") or VAR_DIR / "uploads"
)
STORAGES = {
    "default": storage_from_environment(),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Transport security: on by default in production; each can be switched off for a local
# plain-HTTP run (the demo does so), never silently.
_SECURE = not (DEBUG or DEMO)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _SECURE)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _SECURE)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _SECURE)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The client address for login throttling is the last one the proxy appended.
    AXES_IPWARE_PROXY_COUNT = env_int("PROXY_COUNT", 1)
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
SILENCED_SYSTEM_CHECKS: list[str] = []
if not SECURE_HSTS_PRELOAD:
    # Preloading is a commitment to the browser vendors' list; the operator opts in.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Celery. Embedded default: kombu's filesystem transport (no server). Production: Redis
# (recommended) or RabbitMQ (amqp://, see below).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
_BROKER_DIR = BASE_DIR / Path(os.environ.get("CELERY_BROKER_DIR") or VAR_DIR / "broker")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport, with messages renamed into place whole (see the module).
    CELERY_BROKER_TRANSPORT = "dashboard.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than any task may run (hard limit below), so Redis never re-delivers a task that
    # is still being worked on.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3 * 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3 * 3600 + 600)
# RabbitMQ closes the channel of a consumer holding an unacknowledged message longer than its
# consumer_timeout (30 minutes by default) and delivers the message again; with late acks a
# long sync would be cut off and the worker's other tasks cancelled with it. Under RabbitMQ,
# every task's time limits end before that timeout: a sync job that reaches its soft limit
# hands back what it has not done and continues in a new task (integrations/sync/engine.py),
# so a long job runs as a chain of tasks that each end in time. Previews and pulls finish in
# well under a minute at the benchmarks' sizes (docs/deploy.md). Set RABBITMQ_CONSUMER_TIMEOUT
# to the server's consumer_timeout (seconds) if it was changed there.
RABBITMQ = CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://"))
if RABBITMQ:
    RABBITMQ_CONSUMER_TIMEOUT = env_int("RABBITMQ_CONSUMER_TIMEOUT", 1800)
    CELERY_TASK_TIME_LIMIT = min(CELERY_TASK_TIME_LIMIT, RABBITMQ_CONSUMER_TIMEOUT - 60)
    CELERY_TASK_SOFT_TIME_LIMIT = min(
        CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT - max(5, CELERY_TASK_TIME_LIMIT // 6)
    )
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "dashboard")
# One queue per kind of work, named after the default queue, so a 100,000-row push never
# delays a preview: "<queue>.syncs", "<queue>.previews", "<queue>.housekeeping". A worker
# consumes every queue below unless told otherwise (``celery -A dashboard worker -Q
# dashboard.previews`` for a worker that only builds previews).
CELERY_TASK_ROUTES = {
    "sync.run_job": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.syncs"},
    "imports.watchdog": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.housekeeping"},
    "imports.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.previews"},
    "sync.watchdog": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.housekeeping"},
    "sync.schedule_pulls": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.housekeeping"},
    "core.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.housekeeping"},
    "housekeeping.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.housekeeping"},
}
CELERY_TASK_QUEUES = [
    Queue(name)
    for name in sorted(
        {CELERY_TASK_DEFAULT_QUEUE, *(route["queue"] for route in CELERY_TASK_ROUTES.values())}
    )
]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# What a task prints (the console mail backend in development and the demo) is logged at INFO,
# not as a WARNING from "celery.redirected".
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "core.heartbeat", "schedule": 30.0},
    "sync-watchdog": {"task": "sync.watchdog", "schedule": 60.0},
    "sync-schedule-pulls": {"task": "sync.schedule_pulls", "schedule": 60.0},
    # Housekeeping once a day, at a quiet hour of TIME_ZONE (dashboard/housekeeping/services.py).
    "housekeeping-prune": {
        "task": "housekeeping.prune",
        "schedule": crontab(hour=env_int("PRUNE_HOUR", 3), minute=17),
    },
    "imports-watchdog": {"task": "imports.watchdog", "schedule": 60.0},
}
# One beat at a time (dashboard/core/beat.py): a second one started by mistake stands by. The
# lock lives in Redis when the broker is Redis, else in the database; its holder renews it on
# every tick (at most BEAT_LOCK_REFRESH seconds apart) and a stopped beat's lock lapses after
# BEAT_LOCK_TTL seconds, when a standing-by beat takes over.
CELERY_BEAT_SCHEDULER = "dashboard.core.beat:SingleBeatScheduler"
BEAT_LOCK_TTL = env_int("BEAT_LOCK_TTL", 60)
BEAT_LOCK_REFRESH = env_int("BEAT_LOCK_REFRESH", 15)
# Sessions (docs/seams.md). With a Redis (SESSION_CACHE_URL, by default the broker's when it is
# Redis): Django's cached_db engine on it, a request reading its session from Redis and the
# database only on a miss; a Redis that does not answer leaves sessions to the database
# (dashboard/accounts/sessions.py), and no entry is kept longer than SESSION_CACHE_MAX_SECONDS.
# Without one (the embedded default): Django's database sessions, as every process of the
# host must see a sign-out at once, which a cache in each process's memory would not.
# The default cache stays in each process's memory: its entries are hints kept seconds.
SESSION_CACHE_URL = os.environ.get(
    "SESSION_CACHE_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
).strip()
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
if SESSION_CACHE_URL:
    if not SESSION_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        # Not echoed: the URL may hold a password.
        raise ImproperlyConfigured(
            "SESSION_CACHE_URL must be a redis://, rediss:// or unix:// URL, or empty."
        )
    CACHES["sessions"] = {
        "BACKEND": "dashboard.accounts.sessions.SessionCache",
        "LOCATION": SESSION_CACHE_URL,
        "MAX_TIMEOUT": env_int("SESSION_CACHE_MAX_SECONDS", 300),
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    SESSION_CACHE_ALIAS = "sessions"
else:
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
# The overview asks the workers themselves (a Celery ping waiting this many seconds for
# replies) and keeps the answer this many seconds.
OVERVIEW_PING_TIMEOUT = float(os.environ.get("OVERVIEW_PING_TIMEOUT") or 1.0)
OVERVIEW_WORKERS_CACHE_SECONDS = env_int("OVERVIEW_WORKERS_CACHE_SECONDS", 15)
# Retention (dashboard/housekeeping/services.py): the items of sync jobs finished, the rows of
# imports closed, RETENTION_DAYS ago or more are removed (the jobs and imports stay, with their
# counts); audit events after AUDIT_RETENTION_DAYS, which must be the longer. Expired sessions
# go every day. Deletes run PRUNE_BATCH_SIZE rows per transaction, so no table is held long.
RETENTION_DAYS = env_int("RETENTION_DAYS", 180)
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 730)
PRUNE_BATCH_SIZE = env_int("PRUNE_BATCH_SIZE", 2000)
if RETENTION_DAYS < 1 or AUDIT_RETENTION_DAYS < RETENTION_DAYS:
    raise ImproperlyConfigured(
        "RETENTION_DAYS must be at least 1 and AUDIT_RETENTION_DAYS at least RETENTION_DAYS "
        f"(audit events are kept longest), not {RETENTION_DAYS} and {AUDIT_RETENTION_DAYS}."
    )
if PRUNE_BATCH_SIZE < 1:
    raise ImproperlyConfigured(f"PRUNE_BATCH_SIZE must be at least 1, not {PRUNE_BATCH_SIZE}.")

# The sync engine. Claims older than SYNC_CLAIM_TIMEOUT seconds belong to a dead worker; a
# running job without a heartbeat for SYNC_STALE_AFTER seconds is re-queued by the watchdog.
SYNC_CONCURRENCY = env_int("SYNC_CONCURRENCY", 8)
SYNC_CLAIM_TIMEOUT = env_int("SYNC_CLAIM_TIMEOUT", 300)
SYNC_STALE_AFTER = env_int("SYNC_STALE_AFTER", 120)
SYNC_QUEUED_LOST_AFTER = env_int("SYNC_QUEUED_LOST_AFTER", 600)
SYNC_MAX_DELIVERIES = env_int("SYNC_MAX_DELIVERIES", 5)
# Transient failures (5xx, timeouts, drops, malformed replies, 429) are tried again in the run
# with exponential backoff and full jitter (base and cap in seconds), up to this many attempts
# per item (a connection's options["sync_max_attempts"] overrides it). Unknown outcomes are
# checked again with the same backoff until known, whatever the count.
SYNC_ITEM_MAX_ATTEMPTS = env_int("SYNC_ITEM_MAX_ATTEMPTS", 8)
SYNC_RETRY_BACKOFF_BASE = float(os.environ.get("SYNC_RETRY_BACKOFF_BASE") or 1.0)
SYNC_RETRY_BACKOFF_CAP = float(os.environ.get("SYNC_RETRY_BACKOFF_CAP") or 60.0)
# Outcomes are committed in batches of up to this many items, or this often (seconds).
SYNC_RECORD_BATCH = env_int("SYNC_RECORD_BATCH", 200)
SYNC_RECORD_SECONDS = float(os.environ.get("SYNC_RECORD_SECONDS") or 0.25)
# Worker slots one push, retry or resume is spread over (each runs SYNC_CONCURRENCY calls),
# capped by its item count: as many as the provider account's rate limit can use.
SYNC_SLOTS_PER_JOB = env_int("SYNC_SLOTS_PER_JOB", 3)
SYNC_PULL_BATCH = env_int("SYNC_PULL_BATCH", 500)
# Extra keyword arguments for the provider clients of sync jobs, as JSON (timeouts, backoff):
# e.g. {"read_timeout": 10, "max_attempts": 5}.
try:
    SYNC_CLIENT_OPTIONS = json.loads(os.environ.get("SYNC_CLIENT_OPTIONS") or "{}")
except json.JSONDecodeError:
    raise ImproperlyConfigured("SYNC_CLIENT_OPTIONS must be a JSON object.") from None
# Provider rate limits (Snappy: 100 requests/second per company) are kept per account in this
# Redis, so every worker process and host paces together; by default the broker's Redis.
# With the embedded filesystem broker, a folder beside its queue (file://...): the worker
# processes of the one host pace together. Empty: each process paces alone.
RATE_LIMIT_REDIS_URL = os.environ.get(
    "RATE_LIMIT_REDIS_URL",
    CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    # The embedded broker is one host's: its worker processes share a folder instead.
    else f"file://{_BROKER_DIR.parent / 'ratelimit'}"
    if CELERY_BROKER_URL.startswith("filesystem://")
    else "",
)
# Provider clients of the recipient pages (a person waits for them): short timeouts, one retry.
# JSON keyword arguments merged over these defaults, e.g. {"read_timeout": 20}.
try:
    RECIPIENT_CLIENT_OPTIONS = {
        "connect_timeout": 3,
        "read_timeout": 10,
        "max_attempts": 2,
        "total_timeout": 15,
        "backoff_base": 0.5,
        "backoff_cap": 2,
        **json.loads(os.environ.get("RECIPIENT_CLIENT_OPTIONS") or "{}"),
    }
except (json.JSONDecodeError, TypeError):
    raise ImproperlyConfigured("RECIPIENT_CLIENT_OPTIONS must be a JSON object.") from None

# Test sends of campaign triggers: sends per admin per minute, the event JSON's size cap, and
# the campaign client's options as JSON merged over its own defaults (e.g. {"read_timeout": 10}).
TEST_SEND_RATE_LIMIT_PER_MINUTE = env_int("TEST_SEND_RATE_LIMIT_PER_MINUTE", 10)
TEST_SEND_EVENT_MAX_BYTES = env_int("TEST_SEND_EVENT_MAX_BYTES", 64 * 1024)
try:
    TEST_SEND_CLIENT_OPTIONS = json.loads(os.environ.get("TEST_SEND_CLIENT_OPTIONS") or "{}")
    if not isinstance(TEST_SEND_CLIENT_OPTIONS, dict):
        raise TypeError
except (json.JSONDecodeError, TypeError):
    raise ImproperlyConfigured("TEST_SEND_CLIENT_OPTIONS must be a JSON object.") from None

# CSV imports: the size cap (enforced while the upload streams in; files are kept in
# STORAGES["default"], above), and the size above which a file is processed by a worker
# instead of during the request.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024)
IMPORT_INLINE_MAX_BYTES = env_int("IMPORT_INLINE_MAX_BYTES", 512 * 1024)
# Columns a file may have (HR exports run to a few hundred): each is matched and shown.
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 1000)
# A preview (on a worker) of a file this large or larger is split into ranges of
# IMPORT_PREVIEW_CHUNK_ROWS rows, each a task on the previews queue ("imports.*" below) that
# any worker process may run; the preview's own task writes them in order (0: no chunks).
IMPORT_PREVIEW_CHUNK_ROWS = env_int("IMPORT_PREVIEW_CHUNK_ROWS", 20_000)
IMPORT_PREVIEW_CHUNK_MIN_BYTES = env_int("IMPORT_PREVIEW_CHUNK_MIN_BYTES", 2 * 1024 * 1024)
# A preview being built records a heartbeat after every batch: one silent for
# IMPORT_PREVIEW_STALE_AFTER seconds (its worker died) is queued again by the imports
# watchdog, and so is one queued IMPORT_PREVIEW_QUEUED_LOST_AFTER seconds ago that no worker
# took. After IMPORT_PREVIEW_MAX_ATTEMPTS builds that stopped, the import fails, saying so.
IMPORT_PREVIEW_STALE_AFTER = env_int("IMPORT_PREVIEW_STALE_AFTER", 120)
IMPORT_PREVIEW_QUEUED_LOST_AFTER = env_int("IMPORT_PREVIEW_QUEUED_LOST_AFTER", 600)
IMPORT_PREVIEW_MAX_ATTEMPTS = env_int("IMPORT_PREVIEW_MAX_ATTEMPTS", 3)

# Base URLs of provider connections: https only, except http to loopback when this is on (the
# sandbox). Off in production unless an operator turns it on.
ALLOW_LOOPBACK_PROVIDER_URLS = env_bool("ALLOW_LOOPBACK_PROVIDER_URLS", DEBUG or DEMO)

# Development prints mail to the console; production sends it over SMTP.
_MAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG or DEMO
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS: dict[str, dict[str, Any]] = {"default": {"BACKEND": _MAIL_BACKEND}}
if _MAIL_BACKEND.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": os.environ.get("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 587),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
    }
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "dashboard@localhost")
# Where people open the dashboard: the links in emails are absolute.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Called with a job id once a sync job has finished (the engine runs them after the commit).
SYNC_JOB_FINISHED_HOOKS = ["dashboard.jobs.notifications.job_finished"]

# Logs: JSON lines in production (one object per line, for a log collector), readable lines in
# development and the demo; LOG_FORMAT=json|text overrides. Every line carries what it is
# about (the request's id, the job, the connection, the worker: integrations/logcontext.py),
# and an expected refusal (403, 404, 400) is one line, not a traceback.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG or DEMO else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "integrations.logcontext.ContextFilter"},
        "one_line_refusals": {"()": "integrations.logcontext.OneLineRefusals"},
    },
    "formatters": {
        "text": {
            "()": "integrations.logcontext.ReadableFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # The request object Django passes in ``extra`` is not a field worth a line.
            "reserved_attrs": [*RESERVED_LOG_ATTRS, "request", "server_time"],
            "timestamp": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context", "one_line_refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # The filesystem transport has no host; kombu warns about it on every connection.
        "kombu.connection": {"level": "ERROR"},
        # What a worker's task prints (CELERY_WORKER_REDIRECT_STDOUTS_LEVEL): shown even when
        # the worker runs with --loglevel WARNING, as the demo's does.
        "celery.redirected": {"level": "INFO"},
    },
}

CSRF_FAILURE_VIEW = "dashboard.core.views.csrf_failure"
