"""Prometheus metrics (prometheus-client).

Two kinds:
- Counters and histograms, counted where things happen (ingest, processing, delivery). Under
  `make run` and compose, every process of a host writes them to `PROMETHEUS_MULTIPROC_DIR`
  (prometheus-client's multiprocess mode), so the web's `/metrics` sums gunicorn's workers and
  the Celery workers of that host; a worker on a host of its own serves them on
  `WORKER_METRICS_PORT` (`integrations.celery_metrics`).
- Gauges read from the database when scraped (outbox depth, age of the oldest due row, dead
  letters, disabled keys) and Celery's queue lengths read from Redis: the truth at scrape time,
  whichever process did the work. Apps add theirs with `register_gauge` (integrations imports
  no app).

Label values are bounded sets (outcomes, status codes, outbox names, account slugs); never an
id, an email or a key.
"""

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)
disable_created_metrics()  # `_created` series double the output and nobody graphs them

deliveries_received = Counter(
    "relay_deliveries_received",
    "Webhook deliveries answered by the relay endpoint, by outcome and status code.",
    ["outcome", "status_code"],
)
signature_failures = Counter(
    "relay_signature_failures",
    "Deliveries refused because X-DIXA-SIGNATURE did not verify, per account.",
    ["account"],
)
events_processed = Counter(
    "relay_events_processed",
    "Inbound events processed by the event bus, by outcome.",
    ["outcome"],
)
survey_tries = Counter(
    "relay_survey_tries",
    "Tries to add a campaign member in nps.today, by result.",
    ["result"],
)
npstoday_latency = Histogram(
    "relay_npstoday_request_seconds",
    "Time nps.today took to answer, per operation.",
    ["operation"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
dead_letters = Counter(
    "relay_dead_letters",
    "Surveys that became dead letters (all tries spent or refused for good).",
)
keys_disabled = Counter(
    "relay_npstoday_keys_disabled",
    "nps.today keys disabled after a streak of failures.",
)


# --- gauges read at scrape time -----------------------------------------------------------


@dataclass(frozen=True)
class Gauge:
    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]]


_gauges: dict[str, Gauge] = {}


def register_gauge(
    name: str,
    documentation: str,
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
    labels: tuple[str, ...] = (),
) -> None:
    """`read()` yields (label values, value) pairs when /metrics is scraped."""
    _gauges[name] = Gauge(name, documentation, labels, read)


def gauge_names() -> list[str]:
    return list(_gauges)


class ScrapeTimeCollector(Collector):
    def collect(self):
        for gauge in list(_gauges.values()):
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
            try:
                for labels, value in gauge.read():
                    family.add_metric(list(labels), value)
            except (DatabaseError, OSError) as exc:
                # A scrape must still answer when one source is down; the gap is the signal.
                logger.warning("metrics: %s unavailable (%s)", gauge.name, type(exc).__name__)
                continue
            yield family


def _outbox_backlog():
    from integrations import outbox

    now = timezone.now()
    for box in outbox.registered():
        yield (box.name,), box.model.objects.filter(box.ready(now)).count()


def _outbox_oldest_age():
    from integrations import outbox

    now = timezone.now()
    for box in outbox.registered():
        since = box.schedule_field or box.due_since_field
        if since is None:
            continue
        oldest = box.model.objects.filter(box.ready(now)).aggregate(at=Min(since))["at"]
        yield (box.name,), (now - oldest).total_seconds() if oldest else 0.0


def _celery_queue_lengths():
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
    try:
        names = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
        for queue in sorted(names | {settings.CELERY_TASK_DEFAULT_QUEUE}):
            yield (queue,), client.llen(queue)
    except redis.RedisError as exc:
        raise OSError(str(exc)) from exc
    finally:
        client.close()


register_gauge(
    "relay_outbox_due",
    "Rows that want a worker now, per outbox.",
    _outbox_backlog,
    labels=("outbox",),
)
register_gauge(
    "relay_outbox_oldest_due_seconds",
    "Age of the oldest row that wants a worker, per outbox (0 when none waits).",
    _outbox_oldest_age,
    labels=("outbox",),
)
register_gauge(
    "relay_celery_queue_length",
    "Messages waiting in each Celery queue (Redis broker).",
    _celery_queue_lengths,
    labels=("queue",),
)


# --- exposition ---------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def multiprocess_dir_prepare(path: Path) -> str:
    """An empty folder for the processes about to start (files of a previous run would be
    summed in as if they were theirs)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return str(path)


def worker_metrics_serve() -> None:
    """A Celery worker's own /metrics (its processes' counters), on WORKER_METRICS_PORT
    (0: off) at WORKER_METRICS_ADDR; for workers on a host without the web."""
    if settings.WORKER_METRICS_PORT:
        start_http_server(
            settings.WORKER_METRICS_PORT,
            addr=settings.WORKER_METRICS_ADDR,
            registry=process_registry(),
        )
        logger.info(
            "worker metrics on http://%s:%d/metrics",
            settings.WORKER_METRICS_ADDR,
            settings.WORKER_METRICS_PORT,
        )


def process_registry() -> CollectorRegistry:
    """Counters and histograms: every process of this host, or this process alone."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_render() -> tuple[bytes, str]:
    """The exposition text for /metrics: this host's counters plus the scrape-time gauges."""
    began = time.perf_counter()
    registry = CollectorRegistry()
    registry.register(_Forward(process_registry()))
    registry.register(ScrapeTimeCollector())
    body = generate_latest(registry)
    logger.debug("metrics rendered in %.1f ms", (time.perf_counter() - began) * 1000)
    return body, CONTENT_TYPE_LATEST


class _Forward(Collector):
    """Lets one registry's metrics be collected through another."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        yield from self.source.collect()
