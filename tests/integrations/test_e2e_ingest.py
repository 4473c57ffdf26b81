"""End to end, with real processes: gunicorn serving the relay, the dispatcher and a Celery
worker on Redis, PostgreSQL, and deliveries sent over HTTP the way Dixa sends them."""

import socket
import subprocess
import sys
import threading

import httpx
import pytest
from django.conf import settings

from integrations.dixa import samples, simulator
from integrations.models import InboundEvent, RejectedDelivery
from integrations.services.api_keys import api_key_create
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.support.processes import (
    ROOT,
    Stack,
    flush_redis,
    free_port,
    live_database_url,
    process_env,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "5ec2e7" * 8


@pytest.fixture
def stack(transactional_db, tmp_path):
    stack = Stack(tmp_path)
    yield stack
    stack.stop_all()


@pytest.fixture
def tenant(transactional_db):
    account = AccountFactory(name="E2E")
    SigningSecretFactory(account=account, secret=SECRET)
    return account, api_key_create(account=account, name="dixa").plaintext


def all_processed(expected: int):
    def check():
        done = InboundEvent.objects.exclude(status__in=["received", "processing"]).count()
        return done == expected

    return check


def test_simulated_dixa_traffic_is_stored_once_and_processed(stack, tenant, tmp_path):
    # given a running server and worker on PostgreSQL and Redis
    account, key = tenant
    flush_redis(settings.TEST_REDIS_URL)
    env = process_env(tmp_path, DATABASE_URL=live_database_url(), REDIS_URL=settings.TEST_REDIS_URL)
    base = stack.gunicorn(env)
    stack.worker(env)
    stack.dispatcher(env)
    plan = simulator.plan(
        events=66,
        key=key,
        secret=SECRET,
        casing="snake",
        duplicates=True,
        bad_signatures=True,
        seed=7,
    )
    genuine = {d.event_id for d in plan if not d.bad_signature}
    # when simulate_dixa sends every catalogue type twice, with duplicates and bad signatures
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate_dixa",
            "--url",
            f"{base}/api/dixa/relay",
            "--key",
            key,
            "--secret",
            SECRET,
            "--events",
            "66",
            "--rate",
            "100",
            "--duplicates",
            "--bad-signatures",
            "--seed",
            "7",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # then each genuine event is stored exactly once, and the forged ones are kept as rejected
    assert set(InboundEvent.objects.values_list("event_id", flat=True)) == genuine
    assert RejectedDelivery.objects.filter(status_code=401).count() == sum(
        d.bad_signature for d in plan
    )
    # and the worker processes every stored event
    wait_until(all_processed(len(genuine)), 60, "the worker to process every event")
    outcomes = set(InboundEvent.objects.values_list("outcome", flat=True))
    assert outcomes <= {"handled", "skipped", "no_handler"}
    assert not InboundEvent.objects.filter(verification="unverified").exists()
    assert "duplicate" not in result.stderr


def test_the_same_event_three_times_at_once_is_stored_once(stack, tenant, tmp_path):
    # given
    account, key = tenant
    env = process_env(tmp_path, DATABASE_URL=live_database_url(), REDIS_URL=settings.TEST_REDIS_URL)
    base = stack.gunicorn(env, workers=2)
    statuses: list[list[int]] = []
    for _ in range(10):
        delivery = simulator.build_delivery(
            samples.event("ConversationClosed"), key=key, secret=SECRET
        )
        barrier = threading.Barrier(3)
        codes: list[int] = []

        def send(delivery=delivery, barrier=barrier, codes=codes):
            barrier.wait()
            response = httpx.post(
                f"{base}/api/dixa/relay",
                content=delivery.body,
                headers=delivery.headers,
                timeout=10,
            )
            codes.append(response.status_code)

        threads = [threading.Thread(target=send) for _ in range(3)]
        # when three copies race
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses.append(sorted(codes))
    # then every race stored one event: one 202 and two 200s
    assert statuses == [[200, 200, 202]] * 10
    assert InboundEvent.objects.count() == 10


def test_ingest_keeps_acknowledging_with_redis_stopped_and_catches_up(stack, tenant, tmp_path):
    # given a platform on its own Redis
    account, key = tenant
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    redis = stack.redis(port)
    env = process_env(tmp_path, DATABASE_URL=live_database_url(), REDIS_URL=redis_url)
    base = stack.gunicorn(env)
    worker = stack.worker(env)
    stack.dispatcher(env)
    # when Redis stops
    redis.stop()
    codes = []
    for _ in range(10):
        d = simulator.build_delivery(samples.event("ConversationClosed"), key=key, secret=SECRET)
        response = httpx.post(
            f"{base}/api/dixa/relay", content=d.body, headers=d.headers, timeout=10
        )
        codes.append(response.status_code)
    # then every delivery is acknowledged after commit, and waits in the database
    assert codes == [202] * 10
    assert InboundEvent.objects.filter(status="received").count() == 10
    # and when Redis comes back, without restarting anything, all of them are processed
    stack.redis(port)
    wait_until(all_processed(10), 90, "events to be processed after Redis returned")
    assert worker.alive()


def test_unreachable_database_answers_503_and_readyz_503(stack, tmp_path):
    # given a server whose database does not answer
    dead_db = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    env = process_env(tmp_path, DATABASE_URL=dead_db, REDIS_URL=settings.TEST_REDIS_URL)
    base = stack.gunicorn(env, workers=1)
    delivery = simulator.build_delivery(samples.event("ConversationClosed"), key="dsr_" + "k" * 40)
    # when
    relay = httpx.post(f"{base}/api/dixa/relay", content=delivery.body, headers=delivery.headers)
    ready = httpx.get(f"{base}/readyz")
    # then Dixa is told to retry, and the load balancer that we cannot take traffic
    assert relay.status_code == 503
    assert relay.json()["error"] == "service_unavailable"
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "down"
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_stalled_clients_do_not_starve_deliveries(stack, tenant, tmp_path):
    # given the web server as `make run` starts it, and ten clients that open a connection,
    # send half a request line and then stall (no key needed for that)
    account, key = tenant
    env = process_env(tmp_path, DATABASE_URL=live_database_url(), REDIS_URL=settings.TEST_REDIS_URL)
    base = stack.gunicorn(env)
    port = int(base.rsplit(":", 1)[1])
    stalled = []
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /api/dixa/relay HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        stalled.append(sock)
    try:
        # when Dixa delivers meanwhile, then every delivery is answered within a second
        for _ in range(5):
            d = simulator.build_delivery(
                samples.event("ConversationClosed"), key=key, secret=SECRET
            )
            response = httpx.post(
                f"{base}/api/dixa/relay", content=d.body, headers=d.headers, timeout=1.0
            )
            assert response.status_code == 202
    finally:
        for sock in stalled:
            sock.close()
