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


def test_readyz_tells_only_the_state_and_logs_the_details(client, monkeypatch, settings, caplog):
    # given a database that fails with a message naming its host and database
    from integrations.selectors import health

    detail = 'connection to "db-7.internal.example" (10.2.3.4) failed: database "tenant_prod"'

    class DeadCursor:
        def __enter__(self):
            raise OperationalError(detail)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: DeadCursor())
    settings.CELERY_BROKER_URL = "redis://:hunter2-secret@127.0.0.1:1/0"
    # when anyone asks
    with caplog.at_level("WARNING", logger="integrations.selectors.health"):
        response = client.get("/readyz")
    # then the answer has each check's state and a generic reason, nothing more
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"] == {"status": "down", "reason": "unreachable"}
    assert body["checks"]["broker"] == {"status": "down", "reason": "unreachable"}
    assert body["checks"]["cache"] == {"status": "up"}
    for leak in ("internal.example", "10.2.3.4", "tenant_prod", "OperationalError", "hunter2"):
        assert leak not in response.content.decode()
    # and the details are logged for the operators, without the broker's password
    assert "tenant_prod" in caplog.text and "OperationalError" in caplog.text
    assert "hunter2-secret" not in caplog.text
