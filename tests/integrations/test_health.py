import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200


def test_readyz_is_200_when_everything_is_up(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["broker"]["status"] == "up"
    assert body["checks"]["cache"]["status"] == "up"


def test_stopped_redis_shows_as_down_but_readyz_stays_200(client, settings):
    # given a broker and cache pointing at a port where nothing listens
    dead = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    from django.core.cache import caches

    caches._settings = caches.settings = settings.CACHES
    if hasattr(caches._connections, "default"):
        del caches._connections.default
    # when
    response = client.get("/readyz")
    # then
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"


def test_unreachable_database_gives_503(client, monkeypatch):
    from integrations.selectors import health

    class DeadCursor:
        def __enter__(self):
            raise OperationalError("connection refused")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: DeadCursor())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "down"
