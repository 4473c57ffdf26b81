"""Flower, compose's Celery monitor, starts from the requirements and sits behind basic auth."""

import sys

import httpx
import pytest
from django.conf import settings

from tests.support.processes import Stack, free_port, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_flower_runs_behind_basic_auth(tmp_path):
    stack = Stack(tmp_path)
    port = free_port()
    env = process_env(tmp_path, REDIS_URL=settings.TEST_REDIS_URL)
    flower = stack.start(
        "flower",
        [sys.executable, "-m", "celery", "-A", "config", "flower"]
        + [f"--port={port}", "--address=127.0.0.1", "--basic-auth=ops:s3cret"],
        env,
    )
    base = f"http://127.0.0.1:{port}"

    def answers():
        if not flower.alive():
            raise AssertionError(f"flower exited:\n{flower.log()[-3000:]}")
        try:
            return httpx.get(f"{base}/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 60, "flower to answer")
        assert httpx.get(f"{base}/workers", timeout=5).status_code == 401
        assert httpx.get(f"{base}/workers", auth=("ops", "wrong"), timeout=5).status_code == 401
        assert httpx.get(f"{base}/workers", auth=("ops", "s3cret"), timeout=5).status_code == 200
    finally:
        stack.stop_all()
