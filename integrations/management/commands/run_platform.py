"""`make run`: migrate, make sure there is a superuser, then run the platform's processes
(web, the events worker, an http worker per core, beat, the dispatcher) until Ctrl-C,
restarting any that dies, and stop them all cleanly."""

import fcntl
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from integrations import launcher
from integrations.metrics import multiprocess_dir_prepare

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run the platform: gunicorn, Celery workers and beat, and the outbox dispatcher."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
        )

    def handle(self, *args, **options):
        run_dir = Path(settings.RUN_DIR)
        with run_dir_held(run_dir):
            self._run(run_dir, **options)

    def _run(self, run_dir: Path, *, port, host, web_workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database: migrated")
        call_command("ensure_superuser", stdout=self.stdout)
        for folder in ("queue", "control"):
            (run_dir / "broker" / folder).mkdir(parents=True, exist_ok=True)

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.local"
            ),
            # Every process counts into one folder; the web's /metrics sums them.
            "PROMETHEUS_MULTIPROC_DIR": multiprocess_dir_prepare(run_dir / "metrics"),
        }
        sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        http_workers = {
            f"worker-http-{n}": launcher.http_worker(name=f"http{n}")
            for n in range(1, launcher.http_worker_processes(sqlite=sqlite) + 1)
        }
        commands = {
            "web": launcher.web(bind=f"{host}:{port}", workers=web_workers),
            "worker-events": launcher.events_worker(),
            **http_workers,
            "beat": launcher.beat(schedule=run_dir / "celerybeat-schedule"),
            "dispatcher": launcher.dispatcher(),
        }
        supervisor = launcher.Supervisor(log=self.stderr.write)
        for name, args in commands.items():
            supervisor.start(launcher.Process(name, args, env))
        self._announce(host, port)

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping:
            supervisor.restart_dead()
            time.sleep(0.5)
        self.stdout.write("stopping web, workers, beat and dispatcher…")
        supervisor.stop_all(STOP_GRACE_SECONDS)
        self.stdout.write("stopped")
        sys.stdout.flush()

    def _announce(self, host: str, port: int) -> None:
        display_host = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host  # noqa: S104
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = "redis" if settings.REDIS_URL else "embedded filesystem broker"
        where = (
            "only this machine can reach it (HOST=0.0.0.0 to open it)"
            if host == "127.0.0.1"
            else f"listening on {host}"
        )
        webhook = (
            f"{settings.PUBLIC_URL.rstrip('/')}/api/dixa/relay"
            if settings.PUBLIC_URL
            else f"http://{display_host}:{port}/api/dixa/relay (PUBLIC_URL is not set: Dixa "
            "delivers only to a public https address)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDixa survey relay is running (database: {database}, broker: {broker}; "
                f"{where})\n"
                f"  admin:        http://{display_host}:{port}/{settings.ADMIN_URL}\n"
                f"  Dixa webhook: {webhook}\n"
                f"  readiness:    http://{display_host}:{port}/readyz\n"
                "Log in with the superuser above. Press Ctrl-C to stop every process.\n"
            )
        )


@contextmanager
def run_dir_held(run_dir: Path):
    """The run folder (metrics, beat's schedule, the embedded broker) for this platform
    alone: a second `make run` on the same folder would wipe the first one's metrics and
    run a second beat. The lock is the kernel's, so it goes with the process, however it
    ends."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "platform.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip()
            raise CommandError(
                f"{run_dir} is in use by a platform already running"
                f"{f' (pid {holder})' if holder else ''}; stop it, or give this one its own "
                "folder, database and port (RELAY_RUN_DIR, DATABASE_URL, PORT; see the README)"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield
