"""`make run`'s command on a machine with nothing configured: SQLite and the embedded
filesystem broker, with gunicorn, the dispatcher, the Celery workers and beat, a dead
process restarted, all stopped together by Ctrl-C."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from integrations.dixa import samples, simulator
from tests.support.processes import ROOT, Stack, free_port, process_env, wait_until

pytestmark = pytest.mark.e2e


def test_platform_runs_on_sqlite_and_stops_cleanly_on_ctrl_c(tmp_path):
    # given nothing configured but a superuser password
    port = free_port()
    db_path = tmp_path / "relay.sqlite3"
    env = process_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{db_path}",
        DJANGO_SUPERUSER_PASSWORD="first-login-pw",
        PORT=port,
    )
    env.pop("REDIS_URL", None)
    stack = Stack(tmp_path)
    platform = stack.start("platform", [sys.executable, "manage.py", "run_platform"], env)
    try:
        platform.wait_for_log("is running", timeout=90)
        log = platform.log()
        assert f"http://localhost:{port}/admin/" in log
        assert "embedded filesystem broker" in log
        assert "superuser: created 'admin'" in log
        assert "only this machine can reach it" in log
        assert f"Dixa webhook: http://localhost:{port}/api/dixa/relay (PUBLIC_URL is not set" in log

        # when an account is configured and Dixa delivers an event
        config = tmp_path / "relay.yaml"
        config.write_text("accounts:\n  - name: Laptop\n    api_keys: [{name: dixa}]\n")
        applied = subprocess.run(
            [sys.executable, "manage.py", "apply_config", str(config)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = applied.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
        delivery = simulator.build_delivery(samples.event("ConversationClosed"), key=key)
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200,
            30,
            "the web server",
        )
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/dixa/relay",
            content=delivery.body,
            headers=delivery.headers,
        )
        assert response.status_code == 202

        # then the worker, fed by the embedded broker, processes it
        def processed():
            with sqlite3.connect(db_path) as db:
                row = db.execute("SELECT status FROM integrations_inboundevent").fetchone()
            return row is not None and row[0] == "processed"

        wait_until(processed, 60, "the worker to process the event", interval=0.5)
        assert "No hostname was supplied" not in platform.log()  # kombu's, on a bare URL
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["checks"]["broker"]["status"] == "up"
        # no debug page, whatever goes wrong
        missing = httpx.get(f"http://127.0.0.1:{port}/no-such-page")
        assert missing.status_code == 404 and "DEBUG = True" not in missing.text

        # one http worker: SQLite takes one write at a time, so more would only wait
        platform_pid = str(platform.proc.pid)
        assert len(pgrep("-P", platform_pid, "-f", "http1@")) == 1
        assert pgrep("-P", platform_pid, "-f", "http2@") == []

        # when the events worker dies, it is restarted, and the web server stays up
        [events_worker] = pgrep("-P", str(platform.proc.pid), "-f", "events@")[:1]
        os.kill(events_worker, signal.SIGKILL)
        wait_until(lambda: "worker-events exited" in platform.log(), 30, "the restart notice")
        wait_until(
            lambda: pgrep("-P", str(platform.proc.pid), "-f", "events@"),
            60,
            "a new events worker",
            interval=0.5,
        )
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200

        # and Ctrl-C stops web, worker and beat
        platform.proc.send_signal(signal.SIGINT)
        assert platform.proc.wait(timeout=40) == 0
        assert "stopped" in platform.log()
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        leftovers = subprocess.run(
            ["pgrep", "-f", str(tmp_path / "run")], capture_output=True, text=True
        ).stdout.split()
        assert leftovers == []
    finally:
        stack.stop_all()


def pgrep(*args: str) -> list[int]:
    found = subprocess.run(["pgrep", *args], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]
