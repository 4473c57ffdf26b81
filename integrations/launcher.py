"""The platform's processes as command lines, and a small supervisor for them: one place for
`make run` (run_platform), the end-to-end tests and the benchmarks.

The processes (docs/operations.md):
- web: gunicorn, threaded workers, so a slow or stalled client holds one thread, not a worker;
- worker-events: Celery on a thread pool, queue `events` (processing Dixa's events; quick,
  database-bound: a task runs in the process that received it, with no hand-over to a child);
- worker-http: Celery on a thread pool, queues `surveys` and `dixa` (calls to nps.today and
  Dixa that wait on the network: many in flight on one core), one process per core;
- beat: Celery beat (periodic work: retention);
- dispatcher: hands due rows of every outbox to Celery, woken by PostgreSQL NOTIFY.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def web(
    *, bind: str, workers: int = 2, threads: int = 16, timeout: int = 30, access_log: bool = False
) -> list[str]:
    """gunicorn's own access log is off by default: the platform logs one structured access
    line per request itself (integrations.structured_logs.RequestIdMiddleware)."""
    args = [str(BIN / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py", "--bind", bind]
    args += ["--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)]
    # Another `make run` on the same host must not share this one's control socket.
    args += ["--timeout", str(timeout), "--graceful-timeout", "10", "--no-control-socket"]
    return args + (["--access-logfile", "-"] if access_log else [])


def worker(*, queues: str, hostname: str, concurrency: int, pool: str = "threads") -> list[str]:
    # --quiet: no start-up banner; everything a worker writes is a log line (docs/logging.md).
    args = [str(BIN / "celery"), "-A", "config", "--quiet", "worker", "--loglevel", "INFO"]
    args += ["--queues", queues, "--pool", pool, "--concurrency", str(concurrency)]
    return args + ["--hostname", hostname, "--without-gossip", "--without-mingle"]


def events_worker(*, name: str = "events", concurrency: int = 2) -> list[str]:
    return worker(queues="events", hostname=f"{name}@%h", concurrency=concurrency)


def http_worker(*, name: str = "http", concurrency: int = 32) -> list[str]:
    return worker(queues="surveys,dixa", hostname=f"{name}@%h", concurrency=concurrency)


# Each http worker holds a PostgreSQL connection per thread (32): the default stops here.
HTTP_WORKER_PROCESSES_DEFAULT_MAX = 4


def http_worker_processes(*, sqlite: bool = False) -> int:
    """How many http workers to run: HTTP_WORKER_PROCESSES, else one per core this process
    may use (a worker's threads share one interpreter lock, so one process keeps one core
    busy at most) up to HTTP_WORKER_PROCESSES_DEFAULT_MAX, or one on SQLite (it takes one
    write at a time: more would only wait). In a container limited to fewer CPUs than the
    host has, set it: the core count here is the host's."""
    if os.environ.get("HTTP_WORKER_PROCESSES"):
        value = os.environ["HTTP_WORKER_PROCESSES"]
        if not value.isdigit():
            raise ValueError(f"HTTP_WORKER_PROCESSES must be a whole number, not {value!r}")
        return max(1, int(value))
    if sqlite:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, HTTP_WORKER_PROCESSES_DEFAULT_MAX)


def beat(*, schedule: Path) -> list[str]:
    args = [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO"]
    return args + ["--schedule", str(schedule)]


def dispatcher() -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), "run_dispatcher"]


@dataclass
class Process:
    """One child process in its own session (so a signal reaches its own children too)."""

    name: str
    args: list[str]
    env: dict
    output: IO | int | None = None
    proc: subprocess.Popen | None = field(default=None, init=False)
    restarts: int = field(default=0, init=False)

    def start(self) -> "Process":
        self.proc = subprocess.Popen(  # noqa: S603 - our own command lines
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.output,
            stderr=subprocess.STDOUT if self.output is not None else None,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM to the main process (it shuts its own children down), then SIGKILL."""
        if self.proc is None:
            return None
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait()
        return self.proc.returncode


class Supervisor:
    """Starts processes, restarts one that dies (with a growing pause), stops them all."""

    MAX_PAUSE_SECONDS = 30.0

    def __init__(self, log=print):
        self.processes: dict[str, Process] = {}
        self.log = log
        self._due: dict[str, float] = {}

    def start(self, process: Process) -> Process:
        self.processes[process.name] = process.start()
        return process

    def restart_dead(self) -> list[str]:
        """Restart every child that exited; returns their names."""
        restarted = []
        for name, process in self.processes.items():
            if process.alive():
                continue
            now = time.monotonic()
            if name not in self._due:
                pause = min(self.MAX_PAUSE_SECONDS, 2.0**process.restarts)
                self._due[name] = now + pause
                self.log(f"{name} exited ({process.proc.returncode}); restarting in {pause:.0f} s")
            if now >= self._due[name]:
                del self._due[name]
                process.restarts += 1
                process.start()
                restarted.append(name)
        return restarted

    def stop_all(self, timeout: float = 15) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop(timeout)
