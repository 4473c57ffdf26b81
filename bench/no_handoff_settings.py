"""A diagnostic variant: ingest commits but publishes nothing (the sweeper alone would pick
events up). `BENCH_SETTINGS=bench.no_handoff_settings make bench` measures how much of the
ingest cost is the Celery hand-off. Never used outside benchmarks."""

import integrations.services.queueing as queueing
from bench.settings import *  # noqa: F403

queueing.enqueue_in_background = lambda task, item: None
