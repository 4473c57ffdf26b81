"""Structured logs: JSON lines carrying the ids bound for the request or task, a request id
answered and carried into the tasks a request publishes, and secrets kept out."""

import io
import json
import logging
from types import SimpleNamespace

import pytest
from structlog.contextvars import clear_contextvars, get_contextvars

from integrations import structured_logs
from integrations.structured_logs import bind


@pytest.fixture
def json_lines():
    """Lines of the `relay.test` logger, rendered as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    spec = structured_logs.formatter("json")
    handler.setFormatter(spec.pop("()")(**spec))
    logger = logging.getLogger("relay.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    clear_contextvars()


def test_a_plain_log_call_becomes_json_with_the_bound_ids(json_lines):
    logger, lines = json_lines
    bind(request_id="r-1", account="acme", event_id=42)
    logger.info("survey %s delivered", 7)
    (line,) = lines()
    assert line["event"] == "survey 7 delivered"
    assert line["level"] == "info" and line["logger"] == "relay.test"
    assert (line["request_id"], line["account"], line["event_id"]) == ("r-1", "acme", 42)
    assert line["timestamp"].endswith("Z")


def test_extra_fields_of_a_plain_call_become_keys(json_lines):
    logger, lines = json_lines
    logger.info("survey delivered", extra={"survey_id": 9, "account": 2})
    (line,) = lines()
    assert (line["survey_id"], line["account"]) == (9, 2)


def test_values_under_secret_or_personal_keys_are_redacted(json_lines):
    logger, lines = json_lines
    bind(api_key="rk_live_abc", customer_email="jane@example.com", survey_id=3)
    logger.info("x", extra={})
    (line,) = lines()
    assert line["api_key"] == "[redacted]" and line["customer_email"] == "[redacted]"
    assert line["survey_id"] == 3


def test_exceptions_are_rendered_into_the_line(json_lines):
    logger, lines = json_lines
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (line,) = lines()
    assert "ValueError: boom" in line["exception"]


@pytest.mark.django_db
def test_every_answer_has_a_request_id_and_a_sane_given_one_is_kept(client):
    fresh = client.get("/healthz")
    assert len(fresh["X-Request-ID"]) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    for insane in ("a" * 65, "has space", "new\\nline", ""):
        assert client.get("/healthz", HTTP_X_REQUEST_ID=insane)["X-Request-ID"] != insane


@pytest.mark.django_db
def test_the_access_line_names_the_route_not_the_path(client, caplog):
    caplog.set_level(logging.INFO, logger="relay.access")
    client.post(
        "/api/npstoday/responses/very-secret-hook-value",
        data=b"{}",
        content_type="application/json",
    )
    (record,) = [r for r in caplog.records if r.name == "relay.access"]
    assert "very-secret-hook-value" not in record.getMessage()
    assert record.getMessage().startswith("POST /api/npstoday/responses/<")
    assert get_contextvars() == {}  # nothing leaks into the next request on this thread


def test_a_task_carries_the_publishing_requests_id():
    clear_contextvars()
    bind(request_id="req-9")
    headers: dict = {}
    structured_logs.task_context_publish(headers=headers)
    assert headers == {"request_id": "req-9"}

    clear_contextvars()
    task = SimpleNamespace(
        name="ivr.tasks.deliver_surveys", request=SimpleNamespace(request_id="req-9")
    )
    structured_logs.task_context_start(task=task, task_id="t-1")
    assert get_contextvars() == {
        "task": "ivr.tasks.deliver_surveys",
        "task_id": "t-1",
        "request_id": "req-9",
    }
    structured_logs.task_context_end()
    assert get_contextvars() == {}


@pytest.mark.django_db
def test_api_routes_read_as_written_and_static_files_stay_out_of_the_info_lines(
    client, caplog, settings
):
    caplog.set_level(logging.DEBUG, logger="relay.access")
    client.get("/api/v1/accounts/acme")
    client.get(f"{settings.STATIC_URL}admin/css/base.css")
    api, static = [r for r in caplog.records if r.name == "relay.access"]
    assert api.levelno == logging.INFO
    assert api.getMessage().startswith("GET /api/v1/accounts/<slug> 401 ")
    assert static.levelno == logging.DEBUG
    assert static.getMessage().startswith(f"GET {settings.STATIC_URL}admin/css/base.css 200 ")


@pytest.mark.django_db
def test_a_missing_static_file_is_an_info_line_that_cannot_forge_another(client, caplog, settings):
    caplog.set_level(logging.DEBUG, logger="relay.access")
    client.get(f"{settings.STATIC_URL}nope.css%0Aforged line")
    (line,) = [r for r in caplog.records if r.name == "relay.access"]
    assert line.levelno == logging.INFO
    assert "\n" not in line.getMessage() and "nope.css%0Aforged%20line" in line.getMessage()
