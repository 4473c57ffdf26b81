"""Real processes for end-to-end tests (gunicorn, Celery workers, beat, the dispatcher,
redis-server), started from the platform's own command lines (`integrations.launcher`)."""

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from integrations import launcher
from integrations.metrics import multiprocess_dir_prepare

ROOT = launcher.ROOT


WORKER_READY = "ready."
DISPATCHER_READY = "dispatcher ready"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval=0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def live_database_url() -> str:
    """The database pytest-django created, as a URL other processes can use."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(tmp_path: Path, **overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="0",
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        RELAY_RUN_DIR=str(tmp_path / "run"),
        DISPATCH_POLL_SECONDS="1",
        RECLAIM_INTERVAL_SECONDS="1",
        INBOUND_REQUEUE_AFTER_SECONDS="5",
        ENQUEUE_BACKOFF_SECONDS="1",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        PROMETHEUS_MULTIPROC_DIR=multiprocess_dir_prepare(tmp_path / "metrics"),
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Process(launcher.Process):
    """A launcher process whose output goes to a log file the test can read."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.log_path = log_dir / f"{name}.log"
        super().__init__(name, args, env, output=open(self.log_path, "ab"))  # noqa: SIM115

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        def seen():
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            return text in self.log()

        wait_until(seen, timeout, f"{self.name} to log {text!r}")

    def stop(self, timeout: float = 15) -> int | None:
        code = super().stop(timeout)
        self.output.close()
        return code


class Stack:
    """Starts processes and stops every one of them at the end of a test."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[Process] = []

    def start(self, name: str, args: list[str], env: dict) -> Process:
        process = Process(name, args, env, self.tmp_path)
        process.start()
        self.processes.append(process)
        return process

    def gunicorn(self, env: dict, workers: int = 2, threads: int = 16) -> str:
        port = free_port()
        process = self.start(
            "web", launcher.web(bind=f"127.0.0.1:{port}", workers=workers, threads=threads), env
        )
        base = f"http://127.0.0.1:{port}"

        def up():
            if not process.alive():
                raise AssertionError(f"gunicorn exited:\n{process.log()[-3000:]}")
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 30, "gunicorn to answer /healthz")
        return base

    def worker(
        self, env: dict, concurrency: int = 2, name: str = "worker", wait: bool = True
    ) -> Process:
        """One worker for every queue (events, surveys, dixa), as a small deployment runs.
        `wait=False`: started; `process.wait_for_log(WORKER_READY)` waits for it."""
        args = launcher.worker(
            queues="events,surveys,dixa",
            hostname=f"{name}-{free_port()}@%h",
            concurrency=concurrency,
        )
        process = self.start(name, args, env)
        if wait:
            process.wait_for_log(WORKER_READY, timeout=60)
        return process

    def workers(self, env: dict) -> tuple[Process, Process]:
        """The two workers of `make run`: events and HTTP-bound work."""
        events = self.start("worker-events", launcher.events_worker(name="events-e2e"), env)
        http = self.start("worker-http", launcher.http_worker(name="http-e2e"), env)
        events.wait_for_log(WORKER_READY, timeout=60)
        http.wait_for_log(WORKER_READY, timeout=60)
        return events, http

    def dispatcher(self, env: dict, name: str = "dispatcher", wait: bool = True) -> Process:
        process = self.start(name, launcher.dispatcher(), env)
        if wait:
            process.wait_for_log(DISPATCHER_READY, timeout=60)
        return process

    def beat(self, env: dict) -> Process:
        return self.start("beat", launcher.beat(schedule=self.tmp_path / "beat-schedule"), env)

    def redis(self, port: int) -> Process:
        process = self.start(
            f"redis-{port}-{len(self.processes)}",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            os.environ.copy(),
        )
        process.wait_for_log("Ready to accept connections", timeout=15)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
