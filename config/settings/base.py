"""Settings shared by every environment. Every value has a default that works on a laptop."""

from datetime import timedelta
from pathlib import Path

from csp import constants as csp

from config.env import BASE_DIR, env
from integrations import structured_logs

INSECURE_DEFAULT_SECRET_KEY = "django-insecure-dev-only-not-for-production"  # noqa: S105

SECRET_KEY = env("DJANGO_SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "integrations.apps.RelayAdminConfig",  # django.contrib.admin with the dashboard as index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files (no CDN)
    "integrations.apps.AxesConfig",  # django-axes, named for the admin
    "csp",
    "django_otp",
    "integrations.apps.TotpConfig",  # django_otp.plugins.otp_totp, named for the admin
    "integrations.apps.IntegrationsConfig",
    "ivr.apps.IvrConfig",
    "pgap.apps.PgapConfig",
]

MIDDLEWARE = [
    # First: every line of the request carries its id, and one access line is logged.
    "integrations.structured_logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "integrations.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified() (second factor)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every page (below)
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# psycopg options for PostgreSQL, wherever it is used (the test settings too).
POSTGRESQL_OPTIONS = {
    "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=3),
    # Parameters travel separately (binary), so the raw body is not escaped into the SQL.
    "server_side_binding": True,
    # A statement run this often on a connection is prepared once and then only bound:
    # ingest's INSERT skips PostgreSQL's parse and plan. Django's default is never (for
    # transaction-pooling PgBouncer before 1.21); DB_PREPARE_THRESHOLD=0 restores it.
    "prepare_threshold": env.int("DB_PREPARE_THRESHOLD", default=5) or None,
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers and one writer work side by side.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    # No per-request health check: it costs a round trip on every delivery. A connection
    # that died in between fails its first query with a 503 (Dixa retries) and is dropped.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {}).update(POSTGRESQL_OPTIONS)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache. Absent means an embedded broker and a local-memory cache. -----
REDIS_URL = env("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
RUN_DIR = Path(env("RELAY_RUN_DIR", default=str(BASE_DIR / ".run")))

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # kombu's filesystem transport: a folder on disk, no server to install.
    _broker_dir = RUN_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://localhost/"  # the host names nothing; kombu wants one
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.2,
    }

# --- Celery -------------------------------------------------------------------------------
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 30
CELERY_TASK_TIME_LIMIT = 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection around every task unless told to
# reuse it; reconnecting costs more than a delivery. Reused for this many tasks (x2).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
# One queue per kind of work, so that a slow nps.today (or Dixa) never holds the workers
# that process events. `make run` and the compose file run a worker that fits each.
CELERY_TASK_DEFAULT_QUEUE = "events"
CELERY_TASK_ROUTES = {
    "integrations.tasks.process_inbound_events": {"queue": "events"},
    "ivr.tasks.*": {"queue": "surveys"},
    "pgap.tasks.*": {"queue": "dixa"},
}
CELERY_BEAT_SCHEDULE: dict = {}

# --- Security -----------------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes). The first encrypts; all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
API_KEY_LAST_USED_RESOLUTION = timedelta(seconds=60)
# Ingest caches API keys and decrypted signing secrets per process this long: revoking a
# key or changing a secret reaches every web process within it.
AUTH_CACHE_SECONDS = env.float("AUTH_CACHE_SECONDS", default=5)

# Prometheus' /metrics: a bearer token, or addresses/networks allowed to scrape; with neither,
# only this machine (docs/metrics.md).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)  # 0: the worker serves none
WORKER_METRICS_ADDR = env("WORKER_METRICS_ADDR", default="127.0.0.1")

# Content Security Policy (django-csp): the platform's pages load scripts, styles, images and
# frames from the platform only; nothing from a CDN, no inline script. Style attributes and
# blocks are allowed inline (Django's admin and our templates use them). Pages that need
# more say so on their view (the card's Test; the API's docs send their own policy).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "frame-src": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "form-action": [csp.SELF],
        "base-uri": [csp.SELF],
        "object-src": [csp.NONE],
    }
}

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is locked out for AXES_COOLOFF_TIME (answer 429). API keys
# don't go through these backends; their callers are limited by the ingest's own rules.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner on every command; lockouts are still logged as warnings
# The second factor's issuer, as authenticator apps show it.
OTP_TOTP_ISSUER = "Dixa survey relay"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Dixa ingest --------------------------------------------------------------------------
DIXA_MAX_BODY_BYTES = 1024 * 1024
# Of a refused request, only this much of the body is kept, and at most this many
# refused requests per API key and minute.
REJECTED_BODY_KEEP_BYTES = 4 * 1024
REJECTED_KEEP_PER_MINUTE = env.int("REJECTED_KEEP_PER_MINUTE", default=60)

# --- Outboxes and the dispatcher (integrations/outbox.py) ------------------------------------
# The dispatcher is woken by NOTIFY on PostgreSQL; it also polls this often (the fallback for
# a missed notification, and the only wake-up on SQLite).
_on_sqlite = DATABASES["default"]["ENGINE"].endswith("sqlite3")
DISPATCH_POLL_SECONDS = env.float("DISPATCH_POLL_SECONDS", default=1.0 if _on_sqlite else 5.0)
# How often it looks for rows claimed by a worker that died.
RECLAIM_INTERVAL_SECONDS = env.float("RECLAIM_INTERVAL_SECONDS", default=30)
# Per outbox: a row handed off this long ago and not yet claimed (its message was lost) is
# handed off again; a row claimed this long ago (its worker died) is put back.
INBOUND_REQUEUE_AFTER_SECONDS = env.float("INBOUND_REQUEUE_AFTER_SECONDS", default=60)
INBOUND_CLAIM_TIMEOUT_SECONDS = env.float("INBOUND_CLAIM_TIMEOUT_SECONDS", default=300)
SURVEY_REQUEUE_AFTER_SECONDS = env.float("SURVEY_REQUEUE_AFTER_SECONDS", default=30)
SURVEY_CLAIM_TIMEOUT_SECONDS = env.float("SURVEY_CLAIM_TIMEOUT_SECONDS", default=60)
PGAP_REQUEUE_AFTER_SECONDS = env.float("PGAP_REQUEUE_AFTER_SECONDS", default=30)
PGAP_CLAIM_TIMEOUT_SECONDS = env.float("PGAP_CLAIM_TIMEOUT_SECONDS", default=60)
# Workers read an account's P-GAP setup (asked for every close and every survey sent) at most
# this often per process: switching P-GAP on or off reaches them within it.
PGAP_SETUP_CACHE_SECONDS = env.float("PGAP_SETUP_CACHE_SECONDS", default=5)
# At most this many events handed to Celery and not yet taken by a worker; while the events
# workers are behind, newer events wait in the table and go later, up to 5 to a message.
INBOUND_MAX_UNCLAIMED = env.int("INBOUND_MAX_UNCLAIMED", default=4)
# An event whose worker died this many times ends as an error instead of being tried again.
INBOUND_MAX_CLAIMS = env.int("INBOUND_MAX_CLAIMS", default=3)
# After an enqueue fails (Redis down), a process stops trying for this long.
ENQUEUE_BACKOFF_SECONDS = env.float("ENQUEUE_BACKOFF_SECONDS", default=5)

# --- Outside APIs and the relay ----------------------------------------------------------
NPSTODAY_API_URL = env("NPSTODAY_API_URL", default="https://api.nps.today").rstrip("/")
DIXA_API_URL = env("DIXA_API_URL", default="https://dev.dixa.io").rstrip("/")
NPSTODAY_RATE_LIMIT = env.int("NPSTODAY_RATE_LIMIT", default=10)  # requests/s per key
# Requests to nps.today in flight at once from one worker process (its batches share them);
# no more than the HTTP client keeps connections alive for (20), so none is opened anew.
NPSTODAY_CONCURRENT_SENDS = env.int("NPSTODAY_CONCURRENT_SENDS", default=20)
DIXA_RATE_LIMIT = env.int("DIXA_RATE_LIMIT", default=10)  # requests/s per token (Dixa's limit)
NPSTODAY_DISABLE_AFTER_FAILURES = env.int("NPSTODAY_DISABLE_AFTER_FAILURES", default=25)
NPSTODAY_DISABLE_WINDOW_HOURS = env.float("NPSTODAY_DISABLE_WINDOW_HOURS", default=3)
# Retries due within this long also go to Celery as a countdown (well under Redis'
# visibility timeout); longer waits live only in the database.
SURVEY_COUNTDOWN_MAX_SECONDS = env.int("SURVEY_COUNTDOWN_MAX_SECONDS", default=300)
DELIVERY_RESPONSE_BODY_LIMIT = 4096

# --- i18n, static, admin ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# ISO dates and a 24-hour clock in the admin, typed and shown (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Admin assets are served by WhiteNoise straight from the apps under `make run` as well.
WHITENOISE_USE_FINDERS = True
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "integrations.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The management API's throttle (integrations/api/manage/throttling.py), per user, counted
    # in the default cache: Redis when REDIS_URL is set (shared by every web process).
    "DEFAULT_THROTTLE_RATES": {
        "management": env("API_THROTTLE_RATE", default="600/min"),
    },
}

# The management API's OpenAPI document (docs/api.md): /api/v1/schema, /api/v1/docs, /api/v1/redoc.
SPECTACULAR_SETTINGS = {
    "TITLE": "Dixa survey relay: management API",
    "DESCRIPTION": "Inbound events, surveys, IVR mappings and P-GAP figures of the accounts "
    "the token's user may see in the admin.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": "integrations.models.InboundEvent.Status",
        "EventOutcomeEnum": "integrations.models.InboundEvent.Outcome",
        "HandlerOutcomeEnum": "integrations.models.HandlerRun.Outcome",
        "SurveyStatusEnum": "ivr.models.SurveyTrigger.Status",
        "AttemptOutcomeEnum": "ivr.models.DeliveryAttempt.Outcome",
    },
    "PREPROCESSING_HOOKS": ["integrations.api.manage.schema.only_management_api"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api.manage.schema.add_error_responses",
    ],
}

# Structured logs (integrations/structured_logs.py, docs/logging.md): `console` is a readable
# line, `json` one JSON object per line (production's default). Either way every line carries
# the ids bound for its request or task (request_id, account, event_id, survey_id).
LOG_FORMAT = env("LOG_FORMAT", default="console")
structured_logs.configure()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": structured_logs.formatter(LOG_FORMAT)},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Celery's two lines per task ("received", "succeeded"); failures still show, and
        # the services log each decision and delivery themselves.
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Retention (integrations/retention.py, docs/retention.md) ------------------------------
# Days to keep, counted from arrival (bodies, refusals) or from the survey's end (attempts);
# 0 keeps forever. Events and survey triggers themselves are kept: counts need them.
RETENTION_EVENT_BODY_DAYS = env.int("RETENTION_EVENT_BODY_DAYS", default=30)
RETENTION_REJECTED_DAYS = env.int("RETENTION_REJECTED_DAYS", default=30)
RETENTION_ATTEMPT_DAYS = env.int("RETENTION_ATTEMPT_DAYS", default=30)
# Rows per DELETE (each its own transaction), and batches per step and run.
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_MAX_BATCHES = env.int("RETENTION_MAX_BATCHES", default=100)
# Hourly: each run removes a little, and a backlog drains over a few runs.
CELERY_BEAT_SCHEDULE["purge-expired"] = {
    "task": "integrations.tasks.purge_expired",
    "schedule": timedelta(hours=1),
}

# --- Alerts and the admin's dashboard (docs/admin.md) ----------------------------------------
# Alerts go by email (Django's mail settings; the console in development) and to each
# account's webhook. Conditions are evaluated every minute; the dashboard's counts every 5.
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="relay@localhost")
CELERY_BEAT_SCHEDULE["evaluate-alerts"] = {
    "task": "integrations.tasks.evaluate_alerts",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["count-daily"] = {
    "task": "ivr.tasks.count_daily",
    "schedule": timedelta(minutes=5),
}
# A notice waits on SMTP or a webhook (up to 10 s): on the HTTP worker, beside Dixa's calls.
CELERY_TASK_ROUTES["integrations.tasks.notify_alert_incident"] = {"queue": "dixa"}
# Where an account's alert webhook may point (integrations/alerts/destinations.py). On a
# laptop anything goes (a local chat server); production allows https to public hosts only.
ALERT_WEBHOOK_HTTPS_ONLY = env.bool("ALERT_WEBHOOK_HTTPS_ONLY", default=False)
ALERT_WEBHOOK_INTERNAL_ALLOWED = env.bool("ALERT_WEBHOOK_INTERNAL_ALLOWED", default=True)

# --- P-GAP ---------------------------------------------------------------------------------
# Where the analytics page links a conversation: f"{DIXA_APP_URL}/conversation/{csid}".
# Each Dixa organisation has its own address (https://<org>.dixa.com); set it here.
DIXA_APP_URL = env("DIXA_APP_URL", default="https://app.dixa.com").rstrip("/")

# --- The agent's custom card in Dixa (docs/card.md) -------------------------------------------
# nps.today's Feedback App, which the card's templates embed (seed: nps.today's Dixa guide).
NPSTODAY_FEEDBACK_APP_URL = env(
    "NPSTODAY_FEEDBACK_APP_URL", default="https://feedback.nps.today?operationMode=integration"
)
# How long the card waits for nps.today's token; Dixa gives up on the card after 10 s.
CARD_NPSTODAY_TIMEOUT_SECONDS = env.float("CARD_NPSTODAY_TIMEOUT_SECONDS", default=5.0)

# --- Connect Dixa (integrations/services/dixa_*.py, docs/dixa.md) ---------------------------
# The platform's public base URL: the subscription Connect Dixa makes points Dixa at
# f"{PUBLIC_URL}/api/dixa/relay", nps.today's response hooks and the card's Hook URL at it too
# (integrations/public_url.py). Unset, Connect Dixa says it is needed, and the hooks and the
# card take the address the admin's request came to.
PUBLIC_URL = env("PUBLIC_URL", default="").rstrip("/")
DIXA_WEBHOOK_NAME = env("DIXA_WEBHOOK_NAME", default="nps survey relay")
# A burst of mapping edits makes one PATCH of the queue filter, this long after the first.
DIXA_SYNC_DEBOUNCE_SECONDS = env.float("DIXA_SYNC_DEBOUNCE_SECONDS", default=10)
DIXA_SYNC_RETRY_SECONDS = env.float("DIXA_SYNC_RETRY_SECONDS", default=60)
# A rotated relay key is revoked once Dixa used the new one, or after this long.
DIXA_KEY_GRACE_SECONDS = env.int("DIXA_KEY_GRACE_SECONDS", default=3600)
# A replaced subscription keeps delivering (and its secret stays valid) this long: Dixa's
# retries of its last failures (5, a minute apart) land within it.
DIXA_SECRET_OVERLAP_SECONDS = env.int("DIXA_SECRET_OVERLAP_SECONDS", default=900)
CELERY_TASK_ROUTES["integrations.tasks.dixa_*"] = {"queue": "dixa"}
CELERY_BEAT_SCHEDULE["dixa-maintain"] = {
    "task": "integrations.tasks.dixa_maintain",
    "schedule": timedelta(seconds=env.float("DIXA_MAINTAIN_SECONDS", default=15)),
}
CELERY_BEAT_SCHEDULE["dixa-watch"] = {
    "task": "integrations.tasks.dixa_watch",
    "schedule": timedelta(seconds=env.float("DIXA_WATCH_SECONDS", default=300)),
}
