"""Structured logs (structlog over the standard library's logging).

Every module keeps logging with `logging.getLogger(__name__)`; the formatter here turns each
record into one JSON object per line (`LOG_FORMAT=json`, production's default) or a readable
line (`LOG_FORMAT=console`). Context bound with `bind(...)` rides along on every line of the
same request or task: `request_id`, `account` (a slug), `event_id`, `survey_id`, `task`.

A request's id (`X-Request-ID` when the caller sends a sane one, else a new one) is bound by
`RequestIdMiddleware`, answered in the response's `X-Request-ID`, and travels in the headers
of every Celery task that request publishes (`task_context_*` below). A webhook's work is
published by the dispatcher, not by the request: the id is kept with the event's headers and
bound again when the event is processed.

What must never be logged is dropped here as a last guard (`redact`): values under keys that
name secrets or personal data. Messages themselves carry ids only (docs/logging.md).
"""

import logging
import re
import time
import uuid

import structlog
from django.conf import settings
from django.utils.encoding import escape_uri_path
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

access_logger = logging.getLogger("relay.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECRET_KEYS = re.compile(
    r"(authorization|api_?key|token|secret|signature|password|cookie|email|phone|name)", re.I
)
_KEPT_KEYS = {"event", "logger", "level", "timestamp", "exception", "account", "task"}


def current_request_id() -> str | None:
    return get_contextvars().get("request_id")


def bind(**values) -> None:
    """Add ids to the context of every line logged from here on in this request or task."""
    bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def redact(logger, method_name, event_dict: dict) -> dict:
    for key in list(event_dict):
        if key not in _KEPT_KEYS and _SECRET_KEYS.search(key):
            event_dict[key] = "[redacted]"
    return event_dict


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(),  # logger.info(..., extra={"survey_id": 7})
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]


def formatter(log_format: str) -> dict:
    """A `LOGGING["formatters"]` entry rendering every record (ours, Django's, Celery's)."""
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _shared_processors(),
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    }


def configure() -> None:
    """structlog's own loggers hand their events to the standard library's handlers, and
    Python's warnings (a library's deprecation, Celery's security notice) become log lines."""
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def gunicorn_logconfig(log_format: str) -> dict:
    """gunicorn's own lines (start, workers booting, signals) in the same format."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter(log_format)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # gunicorn logs access lines whenever a log config is given; the platform logs
            # its own (RequestIdMiddleware), so gunicorn's are dropped.
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


# --- requests --------------------------------------------------------------------------------


_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def shown_route(route: str) -> str:
    """A URL pattern as a reader writes it: DRF's routers give regular expressions
    (`api/v1/^accounts/(?P<slug>[^/]+)$`), shown as `/api/v1/accounts/<slug>`."""
    return "/" + _REGEX_GROUP.sub(r"<\1>", route).replace("^", "").replace("$", "")


class RequestIdMiddleware:
    """Binds the request's id for its lines, answers it, and logs one access line: method,
    the URL *pattern* (a path may carry a secret, e.g. a response hook's), status, time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        clear_contextvars()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        bind_contextvars(request_id=request_id)
        began = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            match = request.resolver_match
            static = match is None and request.path.startswith(settings.STATIC_URL)
            # A static file served (WhiteNoise, before URL resolution) is logged at DEBUG: a
            # page brings a dozen, and they bury the lines that matter; one missing, at INFO.
            quiet = static and response.status_code < 400
            access_logger.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s %.1fms",
                request.method,
                shown_route(match.route)
                if match
                else (escape_uri_path(request.path) if static else "(unresolved)"),
                response.status_code,
                (time.perf_counter() - began) * 1000,
            )
            return response
        finally:
            clear_contextvars()


# --- Celery ----------------------------------------------------------------------------------


def task_context_publish(headers: dict | None = None, **kwargs) -> None:
    """before_task_publish: the publishing request's id goes into the message's headers."""
    request_id = get_contextvars().get("request_id")
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def task_context_start(task=None, task_id=None, **kwargs) -> None:
    """task_prerun: a fresh context per task, with its name and the publisher's request id."""
    clear_contextvars()
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    bind(task=getattr(task, "name", None), task_id=task_id, request_id=request_id)


def task_context_end(**kwargs) -> None:
    clear_contextvars()
