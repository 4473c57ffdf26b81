"""The fake Dixa sends webhooks the way Dixa does: signed with the subscription's secret,
with its authorization and headers, filtered, retried, auto-disabled, logged."""

import time

import httpx
import pytest

from integrations.dixa import signature
from tests.fakes.base import Behaviour, FakeApi, Reply
from tests.fakes.dixa import QUEUES, FakeDixa
from tests.support.processes import wait_until

TOKEN = "dixa-test-token"
QUEUE, OTHER = QUEUES[0]["id"], QUEUES[1]["id"]


class Receiver(FakeApi):
    scripted_paths = ("/",)

    def route(self, method, path, headers, body):
        return Reply(202, {"status": "accepted"})


@pytest.fixture
def receiver():
    fake = Receiver().start()
    yield fake
    fake.stop()


@pytest.fixture
def dixa():
    fake = FakeDixa(tokens=[TOKEN], retry_spacing=0.05, disable_after=6).start()
    yield fake
    fake.stop()


def subscribe(dixa, receiver, **overrides) -> dict:
    body = {
        "name": "relay",
        "url": f"{receiver.url}/api/dixa/relay",
        "events": ["ConversationClosed"],
        "authorization": {"_type": "TokenAuth", "value": "relay-key"},
        "customHeaders": {"X-Extra": "yes"},
        "enabled": True,
        "filters": {
            "Conversation": {
                "strategy": "All",
                "conditions": [{"field": "QueueId", "values": [QUEUE], "_type": "IsOneOf"}],
                "_type": "CombinedFilters",
            }
        },
    } | overrides
    response = httpx.post(f"{dixa.url}/beta/webhooks", json=body, headers={"Authorization": TOKEN})
    assert response.status_code == 201
    return response.json()["data"]


def test_a_close_is_delivered_signed_with_the_subscriptions_secret_and_headers(dixa, receiver):
    # given
    sub = subscribe(dixa, receiver)
    # when the conversation is closed with one HTTP call
    response = httpx.post(f"{dixa.url}/__fake__/dixa/close", json={"csid": 7, "queue_id": QUEUE})
    event_id = response.json()["event_id"]
    wait_until(lambda: receiver.recorded("/api/dixa/relay"), 5, "the delivery")
    # then
    request = receiver.recorded("/api/dixa/relay")[0]
    assert request.json()["event_id"] == event_id
    assert request.json()["event_fqn"] == "CONVERSATION_CLOSED"
    assert request.headers["authorization"] == "Bearer relay-key"
    assert request.headers["x-extra"] == "yes"
    assert request.headers["x-dixa-subscription-id"] == sub["id"]
    assert request.headers["content-type"] == "application/json"
    problem = signature.verify(
        header=request.headers["x-dixa-signature"],
        body=request.body,
        secrets=[sub["secretKey"]],
        now=time.time(),
        tolerance=60,
    )
    assert problem is None


def test_filters_and_event_types_decide_what_is_sent(dixa, receiver):
    # given
    subscribe(dixa, receiver)
    # when
    dixa.close_conversation(1, queue_id=OTHER)
    dixa.close_conversation(2, queue_id=QUEUE, assignee=False)  # abandoned: not subscribed
    dixa.close_conversation(3, queue_id=QUEUE)
    wait_until(dixa.sender.idle, 5, "the sender")
    # then
    assert [r.json()["data"]["conversation"]["csid"] for r in receiver.recorded()] == [3]


def test_a_failure_is_retried_and_logged_as_dixa_logs_it(dixa, receiver):
    # given
    sub = subscribe(dixa, receiver)
    receiver.push(Behaviour(status=503), Behaviour(status=500))
    # when
    dixa.close_conversation(1, queue_id=QUEUE)
    wait_until(lambda: len(receiver.recorded()) == 3 and dixa.sender.idle(), 5, "retries")
    # then the third try landed, and the logs say so, newest first
    assert [r.status for r in receiver.recorded()] == [503, 500, 202]
    headers = {"Authorization": TOKEN}
    logs = httpx.get(
        f"{dixa.url}/beta/webhooks/{sub['id']}/delivery-status/logs/ConversationClosed",
        headers=headers,
    ).json()["data"]
    assert [entry["deliveryDetail"]["responseCode"] for entry in logs] == [202, 500, 503]
    status = httpx.get(
        f"{dixa.url}/beta/webhooks/{sub['id']}/delivery-status", headers=headers
    ).json()["data"]
    assert status == [
        {
            "event": "ConversationClosed",
            "deliveryStatus": logs[0]["deliveryDetail"] | {"_type": "DeliveryDetail"},
        }
    ]


def test_a_patched_key_is_used_by_the_next_retry(dixa, receiver):
    # given
    sub = subscribe(dixa, receiver)
    dixa.retry_spacing = 0.5
    receiver.push(Behaviour(status=503))
    dixa.close_conversation(1, queue_id=QUEUE)
    wait_until(lambda: receiver.recorded(), 5, "the first try")
    # when
    httpx.patch(
        f"{dixa.url}/beta/webhooks/{sub['id']}",
        json={"authorization": {"_type": "TokenAuth", "value": "new-key"}},
        headers={"Authorization": TOKEN},
    )
    wait_until(lambda: len(receiver.recorded()) == 2, 5, "the retry")
    # then
    assert [r.headers["authorization"] for r in receiver.recorded()] == [
        "Bearer relay-key",
        "Bearer new-key",
    ]


def test_repeated_failures_disable_the_subscription(dixa, receiver):
    # given
    sub = subscribe(dixa, receiver)
    receiver.push(*[Behaviour(status=500)] * 20)
    # when two closes fail 6 times in a row between them
    dixa.close_conversation(1, queue_id=QUEUE)
    dixa.close_conversation(2, queue_id=QUEUE)
    wait_until(dixa.sender.idle, 5, "the sender")
    # then Dixa disabled it and stopped sending
    view = httpx.get(
        f"{dixa.url}/beta/webhooks/{sub['id']}", headers={"Authorization": TOKEN}
    ).json()["data"]
    assert view["enabled"] is False
    assert len(receiver.recorded()) == 6


def test_the_api_answers_like_dixa(dixa, receiver):
    # given
    headers = {"Authorization": TOKEN}
    sub = subscribe(dixa, receiver)
    # then
    assert httpx.get(f"{dixa.url}/beta/webhooks", headers={"Authorization": "x"}).status_code == 401
    missing = f"{dixa.url}/beta/webhooks/00000000-0000-4000-8000-000000000000"
    assert httpx.get(missing, headers=headers).status_code == 404
    assert httpx.get(f"{dixa.url}/beta/webhooks/nope", headers=headers).status_code == 400
    bad = httpx.post(f"{dixa.url}/beta/webhooks", json={"name": "x"}, headers=headers)
    assert bad.status_code == 400
    dixa.rate_limit = 1
    codes = [httpx.get(f"{dixa.url}/beta/webhooks", headers=headers).status_code for _ in range(3)]
    assert 429 in codes
    dixa.rate_limit = None
    delete = httpx.delete(f"{dixa.url}/beta/webhooks/{sub['id']}", headers=headers)
    assert delete.status_code == 204
    assert httpx.get(f"{dixa.url}/beta/webhooks", headers=headers).json() == {"data": []}
