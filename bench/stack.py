"""What every benchmark needs: a fresh PostgreSQL database, Redis, and the platform's
processes, started from its own command lines (`integrations.launcher`, as `make run` and
the end-to-end tests start them)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import redis

from integrations import launcher

ROOT = launcher.ROOT
OUT = ROOT / "bench" / "out"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relay_bench")
# Database 1: the test suite counts down from 15, one per pytest-xdist process.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
ENCRYPTION_KEY = "bJt8n0xvYJm4gq4eW2V8d0cT6cQ7yH6k3m2d1N5r9aE="
DB_NAME = PG_URL.rsplit("/", 1)[1]
ADMIN_URL = PG_URL.rsplit("/", 1)[0] + "/postgres"  # statistics are read from here


def fresh_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()


def env(**extra) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("BENCH_SETTINGS", "bench.settings"),
        DATABASE_URL=PG_URL,
        REDIS_URL=REDIS_URL,
        FIELD_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        RELAY_RUN_DIR=str(OUT / "run"),
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


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll until `predicate()` holds; returns when (time.time()). Raises on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.time()
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


class Process(launcher.Process):
    """A launcher process whose output goes to bench/out/<name>.log."""

    def __init__(self, name: str, args: list[str], environment: dict):
        OUT.mkdir(exist_ok=True)
        self.log_path = OUT / f"{name}.log"
        super().__init__(name, args, environment, output=open(self.log_path, "wb"))  # noqa: SIM115

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        def seen():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            return text in self.log()

        wait_until(seen, timeout, f"{self.name} to log {text!r}", interval=0.1)

    def pids(self) -> list[int]:
        """The process and its children (gunicorn workers, Celery's pool processes)."""
        if not self.alive():
            return []
        return [self.proc.pid, *descendants(self.proc.pid)]

    def stop(self, timeout: float = 15) -> int | None:
        code = super().stop(timeout)
        self.output.close()
        return code


class Processes:
    """The platform's processes for one benchmark section; `stop()` ends every one."""

    def __init__(self, environment: dict):
        self.env = environment
        self.started: list[Process] = []

    def start(self, name: str, args: list[str], environment: dict | None = None) -> Process:
        process = Process(name, args, environment or self.env)
        process.start()
        self.started.append(process)
        return process

    def web(self, workers: int = 2, threads: int = 16) -> tuple[Process, int]:
        port = free_port()
        bind = f"127.0.0.1:{port}"
        process = self.start("web", launcher.web(bind=bind, workers=workers, threads=threads))

        def up():
            if not process.alive():
                raise RuntimeError(f"gunicorn exited:\n{process.log()[-3000:]}")
            try:
                return httpx.get(f"http://{bind}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 30, "gunicorn to answer /healthz", interval=0.2)
        return process, port

    def events_worker(self, wait: bool = True) -> Process:
        process = self.start("worker-events", launcher.events_worker(name="bench-events"))
        if wait:
            process.wait_for_log("ready.")
        return process

    def http_worker(self, name: str = "worker-http", wait: bool = True) -> Process:
        process = self.start(name, launcher.http_worker(name=f"bench-{name}"))
        if wait:
            process.wait_for_log("ready.")
        return process

    def beat(self) -> Process:
        return self.start("beat", launcher.beat(schedule=OUT / "beat-schedule"))

    def dispatcher(self, wait: bool = True) -> Process:
        process = self.start("dispatcher", launcher.dispatcher())
        if wait:
            process.wait_for_log("dispatcher ready")
        return process

    def platform(
        self, *, http_worker: bool = True, dispatcher: bool = True
    ) -> tuple[dict[str, Process], int]:
        """Everything `make run` starts (web, the events worker, an http worker per core,
        beat, the dispatcher), started side by side, and the web server's port.
        `http_worker=False` or `dispatcher=False` leaves those out (to be started later)."""
        running = {"worker-events": self.events_worker(wait=False), "beat": self.beat()}
        if dispatcher:
            running["dispatcher"] = self.dispatcher(wait=False)
        if http_worker:
            for n in range(1, launcher.http_worker_processes() + 1):
                running[f"worker-http-{n}"] = self.http_worker(f"worker-http-{n}", wait=False)
        running["web"], port = self.web()
        for name, process in running.items():
            if name.startswith("worker-"):
                process.wait_for_log("ready.")
            elif name == "dispatcher":
                process.wait_for_log("dispatcher ready")
        return running, port

    def fake_npstoday(self, keys: list[str]) -> tuple[Process, str]:
        """tests/fakes' nps.today in its own process."""
        port = free_port()
        args = [sys.executable, "-m", "tests.fakes", "--npstoday-port", str(port)]
        args += ["--dixa-port", str(free_port())]
        for key in keys:
            args += ["--npstoday-key", key]
        process = self.start("fake-npstoday", args, os.environ.copy())
        url = f"http://127.0.0.1:{port}"

        def up():
            try:
                return httpx.get(f"{url}/__fake__/state", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 20, "the fake nps.today", interval=0.2)
        return process, url

    def stop(self, timeout: float = 10) -> None:
        for process in reversed(self.started):
            process.stop(timeout)


def kill_now(process: Process) -> None:
    """End a process whose work the benchmark no longer needs (e.g. sends waiting 8 s)."""
    process.kill(signal.SIGKILL)
    process.proc.wait()


# --- CPU and memory, from /proc ----------------------------------------------------------


def descendants(pid: int) -> list[int]:
    found = []
    for child in pgrep("-P", str(pid)):
        found += [child, *descendants(child)]
    return found


def pgrep(*args: str) -> list[int]:
    found = subprocess.run(["pgrep", *args], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def rss_mib(pids: list[int]) -> float:
    total = 0
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
    return sum(_cpu_of(pid) for pid in pids)


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The backends connected to the benchmark's database and PostgreSQL's own background
    processes (WAL writer, checkpointer, autovacuum): not other databases' clients."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR backend_type <> %s",
            [DB_NAME, "client backend"],
        ).fetchall()
    return [pid for (pid,) in rows]


def redis_pids() -> list[int]:
    """The Redis server (shared with whoever else uses it on this machine)."""
    return pgrep("-x", "redis-server")


def machine_cpu() -> tuple[float, float]:
    """Busy CPU seconds of the whole machine (every process, the kernel), and the time
    stolen by the hypervisor, since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


class CpuMeter:
    """CPU seconds used by groups of processes (and by this process, the load generator)
    between `start` and `stop`. Each group is a callable giving its pids; a process that
    appears meanwhile counts from zero (its whole life lies in the interval), one that
    exits meanwhile is missed. `stop()` adds "rest of machine": every other process's CPU
    (other users of these shared cores), and "stolen" by the hypervisor."""

    def __init__(self, **groups):
        self.groups = groups

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {name: {pid: _cpu_of(pid) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self._before = self._snapshot()
        self._self = sum(os.times()[:2])
        self._machine = machine_cpu()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        used = {
            name: sum(cpu - self._before[name].get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in after.items()
        }
        used["load generator"] = sum(os.times()[:2]) - self._self
        busy, stolen = machine_cpu()
        used["rest of machine"] = max(0.0, busy - self._machine[0] - sum(used.values()))
        used["stolen"] = stolen - self._machine[1]
        self.seconds = time.monotonic() - self._wall
        return used
