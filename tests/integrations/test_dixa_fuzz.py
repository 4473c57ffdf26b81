"""Whatever Dixa's webhook API answers (any JSON, NUL bytes, lone surrogates, wrong types),
connect, the check and the delivery-status pull record a state or raise ApiUnavailable for a
retry: never another exception, never a half-written row, and the admin page still renders."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from integrations.models import DixaConnection, DixaDeliveryLog
from integrations.selectors.dixa import dixa_subscription_problems
from integrations.services import dixa_monitor, dixa_sync
from integrations.services.dixa_connect import dixa_connect
from integrations.services.dixa_webhooks import differences, queue_filter
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TRICKY = st.sampled_from(["\x00", "\ud800", "é", "2023-09-15T12:00:00.000Z", "9" * 30, ""])
TEXT = st.text(max_size=20) | TRICKY
KEYS = st.sampled_from(
    ["id", "url", "enabled", "secretKey", "headers", "filters", "subscribedEvents", "event"]
    + ["deliveryStatus", "deliveryDetail", "payload", "success", "responseCode", "responseText"]
    + ["deliveryTimestamp", "_type", "Conversation", "conditions", "field", "values"]
    + ["Authorization", "event_id", "QueueId", "IsOneOf"]
)
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(KEYS | TEXT, children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.fixture
def connection(db):
    account = AccountFactory()
    IvrMappingFactory(account=account)
    return DixaConnection.objects.create(
        account=account,
        api_token="dixa-test-token",
        state=DixaConnection.State.CONNECTED,
        subscription_id="cb452b81-6748-40ab-af85-6559b371bc5d",
        enabled=True,
    )


def answering(monkeypatch, answer):
    monkeypatch.setattr(dixa, "_webhook_call", lambda *args, **kwargs: answer)


@FUZZ
@given(answer=JSON)
def test_reading_any_subscription_never_raises(answer):
    subscription = answer if isinstance(answer, dict) else {"filters": answer}
    connection = DixaConnection(subscription_url="https://x", events=[], queue_ids=[])
    queue_filter(subscription)
    differences(subscription, connection)


@FUZZ
@given(answer=JSON)
@example(answer={"subscribedEvents": ["\x00"]})  # quoted in the drift sentence
def test_any_answer_to_the_check_records_a_state(connection, monkeypatch, answer):
    answering(monkeypatch, answer)
    connection = DixaConnection.objects.get(pk=connection.pk)
    with transaction.atomic():
        state = dixa_sync.subscription_check(connection=connection)
        assert state in DixaConnection.State.values
        transaction.set_rollback(True)


@FUZZ
@given(status=JSON, logs=JSON)
def test_any_delivery_status_is_pulled_or_refused_cleanly(connection, monkeypatch, status, logs):
    calls = iter([status])
    monkeypatch.setattr(dixa, "_webhook_call", lambda method, path, token, **kw: next(calls, logs))
    with transaction.atomic():
        connection = DixaConnection.objects.get(pk=connection.pk)
        dixa_monitor.delivery_status_pull(connection=connection)
        for log in DixaDeliveryLog.objects.filter(connection=connection):
            assert log.reconciliation in DixaDeliveryLog.Reconciliation.values
        dixa_subscription_problems(connection.account)
        transaction.set_rollback(True)


@FUZZ
@given(listing=JSON, created=JSON)
def test_any_answer_to_connect_leaves_a_sentence_or_a_retry(
    connection, monkeypatch, listing, created
):
    answers = iter([listing, created])
    monkeypatch.setattr(dixa, "_webhook_call", lambda *args, **kwargs: next(answers, created))
    with transaction.atomic():
        connection = DixaConnection.objects.get(pk=connection.pk)
        connection.subscription_id = ""
        connection.state = DixaConnection.State.NOT_CONNECTED
        connection.save()
        try:
            outcome = dixa_connect(account=connection.account)
        except ApiUnavailable:
            pass
        else:
            connection.refresh_from_db()
            assert outcome.message == connection.detail
        transaction.set_rollback(True)
