"""Production: refuses to start with insecure defaults."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    DEBUG,
    FIELD_ENCRYPTION_KEYS,
    INSECURE_DEFAULT_SECRET_KEY,
    LOGGING,
    SECRET_KEY,
    env,
)
from integrations import structured_logs

if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")
if not SECRET_KEY or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY: the default key is public.")
# Connect Dixa sends Dixa this URL and the relay key Dixa will send to it: https only. Unset,
# Connect Dixa says so instead of registering a laptop's address.
PUBLIC_URL = env("PUBLIC_URL", default="").rstrip("/")
if PUBLIC_URL and not PUBLIC_URL.startswith("https://"):
    raise ImproperlyConfigured("PUBLIC_URL must be an https URL: Dixa sends the relay key to it.")
# Account admins type alert webhook URLs that the workers POST to: never into this network.
ALERT_WEBHOOK_HTTPS_ONLY = env.bool("ALERT_WEBHOOK_HTTPS_ONLY", default=True)
ALERT_WEBHOOK_INTERNAL_ALLOWED = env.bool("ALERT_WEBHOOK_INTERNAL_ALLOWED", default=False)
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "Set FIELD_ENCRYPTION_KEYS: stored secrets (Dixa tokens, nps.today keys, signing "
        "secrets) are encrypted with it."
    )

# Alerts go out by SMTP (EMAIL_HOST…); the console backend of development would print them.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

# X-Forwarded-Proto says "https" only if a proxy we run sets it (and so overwrites what a
# client sent); without one any client could claim HTTPS.
if env.bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Preloading commits the whole domain to HTTPS in every browser, for months: the
    # domain owner's decision, not a default of ours (docs/security.md).
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# One JSON object per line, for the log pipeline (docs/logging.md); LOG_FORMAT=console reads
# better on a terminal.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["formatters"]["structured"] = structured_logs.formatter(LOG_FORMAT)
