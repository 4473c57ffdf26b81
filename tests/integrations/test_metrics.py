"""/metrics: who may scrape it, and what it counts (in-process; the multi-process path is
covered end to end in test_e2e_metrics.py)."""

import time
from unittest import mock

import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from integrations.dixa import samples, signature
from integrations.services import ingest
from tests.integrations.factories import InboundEventFactory, SigningSecretFactory

pytestmark = pytest.mark.django_db
SECRET = "0a1b2c3d4e5f" * 4


def scrape(client, remote="127.0.0.1", **headers):
    return client.get("/metrics", REMOTE_ADDR=remote, **headers)


def sample(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def relay(client, key, body, sig=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    if sig:
        headers["HTTP_X_DIXA_SIGNATURE"] = sig
    return client.post("/api/dixa/relay", data=body, content_type="application/json", **headers)


def test_with_nothing_configured_only_this_machine_may_scrape(client):
    assert scrape(client).status_code == 200
    assert scrape(client, remote="::1").status_code == 200
    refused = scrape(client, remote="203.0.113.9")
    assert refused.status_code == 403
    assert "METRICS_TOKEN" in refused.json()["detail"]


def test_a_token_is_needed_once_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    assert scrape(client).status_code == 403  # not even from this machine
    assert scrape(client, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert (
        scrape(client, remote="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-me").status_code
        == 200
    )


def test_an_allow_list_admits_its_networks(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert scrape(client, remote="10.1.2.3").status_code == 200
    assert scrape(client, remote="11.1.2.3").status_code == 403
    assert scrape(client, remote="not-an-ip").status_code == 403


def test_answers_are_counted_by_outcome_and_status_code(client, issued_key):
    SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET)
    body = samples.encode(samples.event("ConversationClosed"))
    good = signature.header_value(SECRET, int(time.time() * 1000), body)
    before = {
        "accepted": sample(
            "relay_deliveries_received_total", outcome="accepted", status_code="202"
        ),
        "duplicate": sample(
            "relay_deliveries_received_total", outcome="duplicate", status_code="200"
        ),
        "unauth": sample(
            "relay_deliveries_received_total", outcome="missing_credentials", status_code="401"
        ),
        "bad_sig": sample(
            "relay_signature_failures_total", account=issued_key.api_key.account.slug
        ),
    }
    assert relay(client, issued_key.plaintext, body, good).status_code == 202
    assert relay(client, issued_key.plaintext, body, good).status_code == 200
    assert relay(client, None, body).status_code == 401
    forged = signature.header_value("ff" * 16, int(time.time() * 1000), body)
    assert relay(client, issued_key.plaintext, body, forged).status_code == 401

    after = {
        "accepted": sample(
            "relay_deliveries_received_total", outcome="accepted", status_code="202"
        ),
        "duplicate": sample(
            "relay_deliveries_received_total", outcome="duplicate", status_code="200"
        ),
        "unauth": sample(
            "relay_deliveries_received_total", outcome="missing_credentials", status_code="401"
        ),
        "bad_sig": sample(
            "relay_signature_failures_total", account=issued_key.api_key.account.slug
        ),
    }
    assert {k: after[k] - before[k] for k in after} == {
        "accepted": 1,
        "duplicate": 1,
        "unauth": 1,
        "bad_sig": 1,
    }
    text = scrape(client).content.decode()
    assert 'relay_deliveries_received_total{outcome="accepted",status_code="202"}' in text


def test_outbox_gauges_are_read_when_scraped(client):
    InboundEventFactory.create_batch(3)  # received, never handed off
    text = scrape(client).content.decode()
    assert 'relay_outbox_due{outbox="inbound events"} 3.0' in text
    age = next(
        line
        for line in text.splitlines()
        if line.startswith('relay_outbox_oldest_due_seconds{outbox="inbound events"}')
    )
    assert float(age.split()[-1]) >= 0.0
    assert 'relay_outbox_due{outbox="surveys"} 0.0' in text


def test_an_answer_without_an_outcome_is_counted_as_other(client, issued_key):
    # given a database outage: the 503 is a plain JSON response, with no status or error
    body = samples.encode(samples.event("ConversationClosed"))
    before = sample("relay_deliveries_received_total", outcome="other", status_code="503")
    # when a delivery arrives
    with mock.patch.object(
        ingest, "inbound_event_record", side_effect=OperationalError("server closed")
    ):
        assert relay(client, issued_key.plaintext, body).status_code == 503
    # then it is counted under "other"
    after = sample("relay_deliveries_received_total", outcome="other", status_code="503")
    assert after - before == 1
