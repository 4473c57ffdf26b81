"""What every benchmark needs: a fresh PostgreSQL database, Redis, and processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relay_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ENCRYPTION_KEY = "bJt8n0xvYJm4gq4eW2V8d0cT6cQ7yH6k3m2d1N5r9aE="


def fresh_database() -> None:
    admin_url, name = PG_URL.rsplit("/", 1)
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(REDIS_URL).flushdb()


def env(**extra) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("BENCH_SETTINGS", "bench.settings"),
        DATABASE_URL=PG_URL,
        REDIS_URL=REDIS_URL,
        FIELD_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        RELAY_RUN_DIR=str(ROOT / "bench" / "out" / "run"),
        PYTHONUNBUFFERED="1",
    )
    base.update({k: str(v) for k, v in extra.items()})
    return base


def manage(*args: str, environment: dict) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        (ROOT / "bench" / "out").mkdir(exist_ok=True)

    def start(self, name: str, args: list[str], environment: dict) -> subprocess.Popen:
        log = open(ROOT / "bench" / "out" / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def gunicorn(self, environment: dict, workers: int) -> tuple[subprocess.Popen, int]:
        port = free_port()
        threads = os.environ.get("BENCH_THREADS")  # e.g. 4: gthread workers instead of sync
        args = [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--backlog",
            "2048",
        ]
        if threads:
            args += ["--worker-class", "gthread", "--threads", threads]
        proc = self.start("gunicorn", args, environment)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return proc, port
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def celery(self, name: str, args: list[str], environment: dict) -> subprocess.Popen:
        return self.start(name, [str(BIN / "celery"), "-A", "config", *args], environment)

    def worker(self, environment: dict, concurrency: int = 2) -> subprocess.Popen:
        proc = self.celery(
            "worker",
            [
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
            ],
            environment,
        )
        return proc

    def beat(self, environment: dict) -> subprocess.Popen:
        schedule = ROOT / "bench" / "out" / "beat-schedule"
        return self.celery(
            "beat", ["beat", "--loglevel", "WARNING", "--schedule", str(schedule)], environment
        )

    def fake_npstoday(self, keys: list[str]) -> str:
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "tests.fakes",
            "--npstoday-port",
            str(port),
            "--dixa-port",
            str(free_port()),
        ]
        for key in keys:
            args += ["--npstoday-key", key]
        self.start("fakes", args, os.environ.copy())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/__fake__/state", timeout=1)
                return url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("fake nps.today did not start")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    pids = [pid, *pgrep("-P", str(pid))]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def pgrep(*args: str) -> list[int]:
    found = subprocess.run(["pgrep", *args], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


class CpuMeter:
    """CPU time spent by the web server, PostgreSQL and this process (the load generator)
    between `start` and `stop`, per request."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def _groups(self) -> dict[str, list[int]]:
        web = [self.server_pid, *pgrep("-P", str(self.server_pid))]
        return {"web": web, "postgres": pgrep("-x", "postgres")}

    def start(self) -> None:
        self._before = {k: cpu_seconds(v) for k, v in self._groups().items()}
        self._self = sum(os.times()[:2])

    def stop(self, requests: int) -> dict[str, float]:
        after = {k: cpu_seconds(v) for k, v in self._groups().items()}
        used = {k: after[k] - self._before[k] for k in after}
        used["load generator"] = sum(os.times()[:2]) - self._self
        return {k: v / requests * 1e6 for k, v in used.items()}  # µs per request
