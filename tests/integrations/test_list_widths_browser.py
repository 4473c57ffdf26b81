"""Lists whose columns once scrolled sideways inside their box at 1280 px, each with a row
as long as real ones get, in real Chromium: every column in view. And a record with several
buttons: they never cover its title."""

import pytest
from django.conf import settings
from django.utils import timezone

from integrations.audit.services import audit_record
from integrations.models import DixaConnection, DixaDeliveryLog, RejectedDelivery
from integrations.services.api_keys import api_key_create
from pgap.models import ResponseSubscription
from tests.integrations.test_admin_browser import screenshot
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import (
    AgentPredictionFactory,
    ResponseHookFactory,
    SurveyResponseFactory,
)
from tests.pgap.test_browser import PASSWORD, chromium_page, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]
LISTS = (
    "integrations/dixadeliverylog",
    "pgap/surveyresponse",
    "pgap/agentprediction",
    "pgap/responsesubscription",
    "integrations/auditentry",
    "integrations/rejecteddelivery",
)


@pytest.fixture
def long_rows(django_user_model):
    mapping = IvrMappingFactory(name="Customer Service Denmark – Email")
    account = mapping.account
    account.name = "Scandinavian Outdoor Retail Group"
    account.save()
    now = timezone.now()
    connection = DixaConnection.objects.create(account=account, subscription_id="s" * 36)
    DixaDeliveryLog.objects.create(
        connection=connection,
        subscription_id="0b7e3c1a-8d3f-4f55-9a1e-2f6c7d8e9f00",
        event_type="ConversationClosed",
        event_id="5f3d9c2e-7b1a-4c8d-9e0f-1a2b3c4d5e6f",
        delivered_at=now,
        success=False,
        response_code=503,
        response_text="Service Unavailable: the relay could not reach its database",
        reconciliation="failed",
        pulled_at=now,
    )
    RejectedDelivery.objects.create(
        account=account,
        api_key=api_key_create(account=account, name="Dixa webhook (rotated 2026-12-07)").api_key,
        status_code=401,
        reason="the signature does not match the body (X-DIXA-SIGNATURE, 2 active secrets tried)",
        raw_body=b"{}",
        body_size=2,
    )
    prediction = AgentPredictionFactory(
        mapping=mapping, agent_email="karla.kristensen-holm@corp.example"
    )
    SurveyResponseFactory(
        account=account, respondent_email="jane.jensen@example.com", csid=prediction.csid
    )
    hook = ResponseHookFactory(account=account)
    ResponseSubscription.objects.create(
        account=account,
        hook=hook,
        campaign_id=7232,
        subscription_id="sub-0b7e3c1a-8d3f-4f55-9a1e-2f6c7d8e9f00",
        last_error="nps.today answered 401: the API key is not valid for this campaign",
    )
    audit_record(
        actor=django_user_model.objects.create_superuser("root", "r@example.com", PASSWORD),
        action="survey resend",
        objects=[SurveyTriggerFactory(mapping=mapping, account=account)],
        summary="Resent 1 dead letter (survey #1) through the survey handler only",
        result="1 resent, 0 left alone (not dead letters)",
    )


@pytest.mark.parametrize("listed", LISTS)
def test_every_column_of_the_list_is_in_view_at_1280_px(live_server, long_rows, listed):
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}{listed}/")
        assert page.locator("#result_list tbody tr").count() >= 1
        screenshot(page, "list-" + listed.replace("/", "-"), full_page=False)
        table, box = page.evaluate(
            "[document.querySelector('#result_list').scrollWidth,"
            " document.querySelector('.results').clientWidth]"
        )
        assert table <= box, f"{listed}: the table is {table} px in a {box} px box"


def test_a_records_buttons_never_cover_its_title(live_server, long_rows):
    # given an event with three buttons (reprocess, and through each of two handlers)
    from tests.integrations.factories import InboundEventFactory

    event = InboundEventFactory(status="processed", outcome="skipped")
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(
            f"{live_server.url}/{settings.ADMIN_URL}integrations/inboundevent/{event.pk}/change/"
        )
        screenshot(page, "event-buttons", full_page=False)
        tools = page.locator("#content .object-tools").bounding_box()
        for title in ("#content h1", "#content h2"):
            box = page.locator(title).first.bounding_box()
            apart = (
                tools["y"] >= box["y"] + box["height"] or box["y"] >= tools["y"] + tools["height"]
            )
            assert apart, f"the buttons {tools} cover {title} {box}"
        assert page.locator("#content .object-tools button").count() >= 3
