"""The management API's throttle: per user, counted in Django's default cache, answered with
429 and Retry-After. With REDIS_URL set that cache is Redis, shared by every web process."""

import pytest
import redis
from django.core.cache import caches

from tests.integrations.api import make_staff, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rate(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"management": "3/min"},
    }
    caches["default"].clear()
    yield
    caches["default"].clear()


def test_past_its_rate_a_user_gets_429_with_retry_after(account, django_user_model, low_rate):
    # given
    alice = token_client(make_staff(django_user_model, "alice", account))
    bob = token_client(make_staff(django_user_model, "bob", account))
    # when
    answers = [alice.get("/api/v1/accounts").status_code for _ in range(4)]
    refused = alice.get("/api/v1/events")
    # then: alice is refused, bob (another user) is not
    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"] == "throttled"
    assert bob.get("/api/v1/accounts").status_code == 200


@pytest.mark.redis
def test_the_count_is_shared_through_redis(account, django_user_model, settings, low_rate):
    # given the default cache on Redis, as production has it
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.TEST_REDIS_URL,
        }
    }
    caches["default"].clear()
    alice = make_staff(django_user_model, "alice", account)
    # when two clients of one user (as two web processes would see them) share the rate
    first, second = token_client(alice), token_client(alice)
    answers = [c.get("/api/v1/accounts").status_code for c in (first, second, first, second)]
    # then: one count, and it lives in Redis
    assert answers == [200, 200, 200, 429]
    server = redis.Redis.from_url(settings.TEST_REDIS_URL)
    assert server.keys(f"*throttle_management_{alice.pk}")
    caches["default"].clear()
