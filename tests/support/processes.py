"""Real processes for end-to-end tests: gunicorn, Celery worker and beat, redis-server."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


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
        SWEEP_INTERVAL_SECONDS="1",
        INBOUND_SWEEP_GRACE_SECONDS="1",
        INBOUND_REQUEUE_AFTER_SECONDS="5",
        ENQUEUE_BACKOFF_SECONDS="1",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Process:
    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        def seen():
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            return text in self.log()

        wait_until(seen, timeout, f"{self.name} to log {text!r}")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 15) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Stack:
    """Starts processes and stops every one of them at the end of a test."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[Process] = []

    def start(self, name: str, args: list[str], env: dict) -> Process:
        process = Process(name, args, env, self.tmp_path)
        self.processes.append(process)
        return process

    def gunicorn(self, env: dict, workers: int = 3) -> str:
        port = free_port()
        process = self.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--access-logfile",
                "-",
            ],
            env,
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

    def worker(self, env: dict, concurrency: int = 2, name: str = "worker") -> Process:
        process = self.start(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}-{free_port()}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
        )
        process.wait_for_log("ready.", timeout=60)
        return process

    def beat(self, env: dict) -> Process:
        return self.start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.tmp_path / "beat-schedule"),
            ],
            env,
        )

    def redis(self, port: int) -> Process:
        process = self.start(
            f"redis-{port}-{len(self.processes)}",
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
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
