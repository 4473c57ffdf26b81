"""The shared per-credential limiter (integrations.ratelimit), as the relay uses it for
nps.today keys and the P-GAP capture for Dixa tokens."""

import time

import pytest
import redis

from integrations import ratelimit

pytestmark = pytest.mark.redis


@pytest.fixture
def limiter(settings):
    settings.REDIS_URL = settings.TEST_REDIS_URL
    ratelimit._client = None
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    yield
    ratelimit._client = None


def test_no_key_sends_more_than_the_limit_in_any_second(limiter):
    # when 10 sends of one key ask for a slot
    slots = []
    for _ in range(10):
        ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=4)
        slots.append(int(time.time()))
    # then no calendar second got more than 4 of them, and every one got a slot
    per_second = {s: slots.count(s) for s in set(slots)}
    assert max(per_second.values()) <= 4
    assert len(slots) == 10


def test_keys_are_counted_apart_and_never_stored_in_clear(limiter, settings):
    for _ in range(4):
        assert ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=4) == 0
    # a second key is not slowed down by the first one's full window
    assert ratelimit.wait_for_slot("npstoday", "nps-key-b", limit=4) == 0
    keys = [k.decode() for k in redis.Redis.from_url(settings.TEST_REDIS_URL).keys("relay:*")]
    assert keys and not any("nps-key" in k for k in keys)


def test_apis_are_counted_apart(limiter, settings):
    # given nps.today's window for a credential is full
    for _ in range(2):
        ratelimit.wait_for_slot("npstoday", "same-secret", limit=2)
    # when Dixa's limiter is asked for the same credential string
    waited = ratelimit.wait_for_slot("dixa", "same-secret", limit=2)
    # then it is not slowed down: each API has its own windows
    assert waited == 0
    keys = {k.decode() for k in redis.Redis.from_url(settings.TEST_REDIS_URL).keys("relay:*")}
    assert any(k.startswith("relay:dixa-rate:") for k in keys)
    assert any(k.startswith("relay:npstoday-rate:") for k in keys)


def test_without_redis_it_lets_requests_through(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.REDIS_SOCKET_TIMEOUT = 0.2
    ratelimit._client = None
    try:
        assert ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=4) == 0
    finally:
        ratelimit._client = None
    assert "rate limiter unavailable" in caplog.text


def test_a_full_window_waits_for_the_next_second_only(limiter):
    # given the key's window for this second is full
    ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=1)
    # when the next send asks for a slot
    waited = ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=1)
    # then it waited for the next second, no longer
    assert 0 < waited <= 1.001 + 1e-9


def test_after_max_wait_it_sends_anyway(limiter):
    ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=1)
    assert ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=1, max_wait=0) == 0.0


def test_windows_expire_and_one_client_is_reused(limiter, settings):
    ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=4)
    client = ratelimit._client
    ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=4)
    assert ratelimit._client is client
    server = redis.Redis.from_url(settings.TEST_REDIS_URL)
    assert all(0 < server.ttl(key) <= 2 for key in server.keys("relay:*"))


def test_without_a_redis_url_there_is_no_limiter(settings):
    settings.REDIS_URL = ""
    ratelimit._client = None
    assert ratelimit.wait_for_slot("npstoday", "nps-key-a", limit=4) == 0.0
    assert ratelimit._client is None
