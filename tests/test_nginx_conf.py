"""The compose file's proxy (config/nginx/relay.conf), run by the nginx on this machine when
there is one: its access log names a response hook's route, never the hook's secret."""

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, free_port, wait_until

NGINX = shutil.which("nginx")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed here")


@pytest.fixture
def proxy(tmp_path: Path):
    port = free_port()
    conf = (ROOT / "config" / "nginx" / "relay.conf").read_text()
    conf = conf.replace("server web:8000;", f"server 127.0.0.1:{free_port()};")  # nothing there
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "relay.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ include {tmp_path}/relay.conf; }}\n"
    )
    nginx = [NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)]
    subprocess.run(nginx, check=True, capture_output=True)
    try:
        yield f"http://127.0.0.1:{port}", tmp_path / "access.log"
    finally:
        subprocess.run([*nginx, "-s", "stop"], check=False, capture_output=True)
        time.sleep(0.2)


def test_the_access_log_keeps_a_response_hooks_secret_out(proxy):
    base, log = proxy
    httpx.post(f"{base}/api/npstoday/responses/hook-secret-123?x=1", json={})
    httpx.post(f"{base}/api/dixa/relay", json={})
    wait_until(lambda: log.exists() and log.read_text().count("\n") >= 2, 5, "two log lines")
    text = log.read_text()
    assert "hook-secret-123" not in text
    assert '"POST /api/npstoday/responses/<secret> HTTP/1.1"' in text
    assert '"POST /api/dixa/relay HTTP/1.1"' in text
