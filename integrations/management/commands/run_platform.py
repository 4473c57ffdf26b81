"""`make run`: migrate, make sure there is a superuser, then run web, worker and beat together
until Ctrl-C (or until one of them dies), and stop them all cleanly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run the platform: gunicorn, a Celery worker and Celery beat."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
        )
        parser.add_argument("--worker-concurrency", type=int, default=2)

    def handle(self, *args, port, host, web_workers, worker_concurrency, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database: migrated")
        call_command("ensure_superuser", stdout=self.stdout)
        run_dir = Path(settings.RUN_DIR)
        for folder in ("queue", "control"):
            (run_dir / "broker" / folder).mkdir(parents=True, exist_ok=True)

        bin_dir = Path(sys.executable).parent
        commands = {
            "web": [
                str(bin_dir / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
            ],
            "worker": [
                str(bin_dir / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(worker_concurrency),
                "--hostname",
                "worker@%h",
            ],
            "beat": [
                str(bin_dir / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(run_dir / "celerybeat-schedule"),
            ],
        }
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.local"
            ),
        }
        children = {
            name: subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603
            for name, cmd in commands.items()
        }

        display_host = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host  # noqa: S104
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = "redis" if settings.REDIS_URL else "embedded filesystem broker"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDixa survey relay is running (database: {database}, broker: {broker})\n"
                f"  admin:        http://{display_host}:{port}/{settings.ADMIN_URL}\n"
                f"  Dixa webhook: http://{display_host}:{port}/api/dixa/relay\n"
                f"  readiness:    http://{display_host}:{port}/readyz\n"
                "Log in with the superuser above. Press Ctrl-C to stop web, worker and beat.\n"
            )
        )

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exit_code = 0
        while not stopping:
            dead = [name for name, proc in children.items() if proc.poll() is not None]
            if dead:
                self.stderr.write(f"{', '.join(dead)} exited; stopping the rest")
                exit_code = 1
                break
            time.sleep(0.5)
        self._stop(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop(self, children):
        self.stdout.write("stopping web, worker and beat…")
        for proc in children.values():
            if proc.poll() is None:
                # The main process only: it shuts its own children down (warm shutdown).
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, proc in children.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stdout.write("stopped")
