"""The customer lookup: one search by email, phone, csid or guid lays out each close's chain,
received → mapping → rule outcome → survey → tries → delivered, for the user's accounts only,
in the same few queries whatever the tables hold."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.models import InboundEvent
from integrations.services.processing import inbound_event_process
from ivr.lookup import customer_lookup
from ivr.models import DeliveryAttempt, SurveyTrigger
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import stored_event

pytestmark = pytest.mark.django_db
LOOKUP = reverse("admin:ivr_customer_lookup")


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


def close(account, **conversation):
    """A close from Jane (REALISTIC_CONVERSATION), stored and run through the event bus."""
    event = stored_event(account, **conversation)
    inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    return event


def deliver(survey: SurveyTrigger, *codes: int) -> None:
    """Tries as the relay records them; the last code decides."""
    for number, code in enumerate(codes, start=1):
        DeliveryAttempt.objects.create(
            trigger=survey,
            number=number,
            request_url="https://nps.today/x",
            request_body={},
            response_status_code=code,
            outcome="success" if code < 300 else "retry",
        )
    survey.status = "delivered" if codes[-1] < 300 else "pending"
    survey.attempt_count = len(codes)
    survey.save()


def test_a_delivered_survey_shows_its_whole_chain(admin_user):
    # given Jane's close in a mapped queue, surveyed after a 503 and a 201
    mapping = IvrMappingFactory(name="Support DK")
    event = close(mapping.account, csid=294566)
    survey = SurveyTrigger.objects.get(inbound_event=event)
    deliver(survey, 503, 201)
    # when an admin looks her up by email, in any case
    found = customer_lookup(user=admin_user, term=" JANE@example.com ")
    # then the close shows the mapping, the rule outcome, the survey, its tries and delivery
    assert found.kind == "email"
    [chain] = found.closes
    assert chain.event == event
    assert [m.name for m in chain.mappings] == ["Support DK"]
    assert chain.rule.outcome == "handled"
    assert chain.surveys == [survey]
    assert [(t.number, t.response_status_code) for t in chain.surveys[0].tries] == [
        (1, 503),
        (2, 201),
    ]
    assert chain.surveys[0].status == "delivered"


@pytest.mark.parametrize(
    "term", ["+4520304050", "294566", "4520304050", "45 20 30 40 50", "+45 20 30 40 50"]
)
def test_phone_and_csid_find_the_same_close(admin_user, term):
    # A phone typed without its + finds the close Dixa sent with one.
    mapping = IvrMappingFactory()
    event = close(mapping.account, csid=294566)
    assert [c.event for c in customer_lookup(user=admin_user, term=term).closes] == [event]


def test_a_phone_stored_with_leading_zeros_is_found_as_typed(admin_user):
    mapping = IvrMappingFactory()
    event = close(mapping.account, csid=294566)
    InboundEvent.objects.filter(pk=event.pk).update(requester_phone="004520304050")
    assert [c.event for c in customer_lookup(user=admin_user, term="004520304050").closes] == [
        event
    ]


def test_tries_are_listed_in_the_order_made_and_a_resend_is_marked(admin_client, admin_user):
    # given a survey tried at 16:46:28 and 16:46:33, then resent and delivered at 16:47:51
    # (its tries numbered 1, 2, then 1 again), the success recorded with a lower id
    mapping = IvrMappingFactory()
    event = close(mapping.account, csid=294566)
    survey = SurveyTrigger.objects.get(inbound_event=event)
    day = timezone.now().replace(hour=16, minute=46, second=0, microsecond=0)
    made = [(1, 201, "success", 111), (1, 503, "retry", 28), (2, 503, "failed", 33)]
    for number, code, outcome, second in made:
        attempt = DeliveryAttempt.objects.create(
            trigger=survey,
            number=number,
            request_url="https://nps.today/x",
            request_body={},
            response_status_code=code,
            outcome=outcome,
        )
        at = day + timedelta(seconds=second)
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(created_at=at)
    SurveyTrigger.objects.filter(pk=survey.pk).update(status="delivered", attempt_count=1)

    # when the customer is looked up
    [chain] = customer_lookup(user=admin_user, term="jane@example.com").closes

    # then the tries read in the order made, and the restart is marked
    tries = chain.surveys[0].tries
    assert [t.created_at.strftime("%H:%M:%S") for t in tries] == [
        "16:46:28",
        "16:46:33",
        "16:47:51",
    ]
    assert [(t.number, t.restarted) for t in tries] == [(1, False), (2, False), (1, True)]
    page = admin_client.get(LOOKUP, {"q": "jane@example.com"}).content.decode()
    assert page.index("16:46:33") < page.index("resent: tries start again at 1")
    assert page.index("resent: tries start again at 1") < page.index("16:47:51")
    # and so does the survey's page
    change = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[survey.pk]))
    inline = change.content.decode()
    assert inline.index("16:46:28") < inline.index("16:46:33") < inline.index("16:47:51")
    assert inline.count("(resent)") == 1
    assert inline.index("16:46:33") < inline.index("(resent)") < inline.index("16:47:51")


def test_the_survey_guid_finds_its_close(admin_user):
    mapping = IvrMappingFactory()
    event = close(mapping.account, csid=7)
    close(mapping.account, csid=8)
    survey = SurveyTrigger.objects.get(inbound_event=event)
    found = customer_lookup(user=admin_user, term=str(survey.guid))
    assert [c.event for c in found.closes] == [event]


def test_a_skipped_close_says_why_and_has_no_survey(admin_user):
    # given a close in a queue nobody mapped
    mapping = IvrMappingFactory()
    event = close(mapping.account, queue={"id": "unmapped-queue", "name": "Sales"})
    # when Jane is looked up
    [chain] = customer_lookup(user=admin_user, term="jane@example.com").closes
    # then the chain stops at the rule outcome, with the reason
    assert chain.event == event
    assert chain.mappings == []
    assert chain.rule.outcome == "skipped"
    assert "no enabled IVR mapping for queue unmapped-queue" in chain.decision
    assert chain.surveys == []


def test_a_staff_user_finds_only_their_accounts_closes(staff_user_factory):
    mine, theirs = IvrMappingFactory(), IvrMappingFactory()
    own = close(mine.account, csid=1)
    close(theirs.account, csid=2)
    user = staff_user_factory("ops", mine.account, perms=["view_surveytrigger"])
    assert [c.event for c in customer_lookup(user=user, term="jane@example.com").closes] == [own]
    assert customer_lookup(user=user, term="2").closes == []


def test_the_lookup_makes_as_many_queries_for_one_close_as_for_ten(admin_user):
    mapping = IvrMappingFactory()
    close(mapping.account, csid=1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            customer_lookup(user=admin_user, term="jane@example.com")
        return len(captured)

    one = queries()
    for csid in range(2, 11):
        event = close(mapping.account, csid=csid)
        deliver(SurveyTrigger.objects.get(inbound_event=event), 201)
    assert queries() == one


def test_a_term_that_is_no_contact_says_so(admin_client):
    page = admin_client.get(LOOKUP, {"q": "hello"}).content.decode()
    assert "is not an email, a phone number" in page


def test_the_page_links_each_step(admin_client):
    mapping = IvrMappingFactory(name="Support DK")
    event = close(mapping.account, csid=42)
    survey = SurveyTrigger.objects.get(inbound_event=event)
    page = admin_client.get(LOOKUP, {"q": "jane@example.com"}).content.decode()
    for url in (
        reverse("admin:integrations_inboundevent_change", args=[event.pk]),
        reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]),
        reverse("admin:ivr_surveytrigger_change", args=[survey.pk]),
    ):
        assert url in page


def test_the_page_leads_back_through_the_survey_list(admin_client):
    # the breadcrumbs name the app and the list of surveys the lookup belongs to
    page = admin_client.get(LOOKUP).content.decode()
    crumbs = page.split('class="breadcrumbs"', 1)[1].split("</div>", 1)[0]
    assert f'href="{reverse("admin:app_list", args=["ivr"])}"' in crumbs
    assert f'href="{reverse("admin:ivr_surveytrigger_changelist")}">Survey triggers</a>' in crumbs
    assert crumbs.rstrip().endswith("Customer lookup")


def test_a_user_without_the_survey_view_permission_is_refused(client, staff_user_factory, account):
    client.force_login(staff_user_factory("nobody", account, perms=["view_inboundevent"]))
    assert client.get(LOOKUP, {"q": "jane@example.com"}).status_code == 403


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(term=st.text(max_size=300))
def test_any_term_gives_a_page_never_an_error(admin_client, term):
    response = admin_client.get(LOOKUP, {"q": term.replace("\x00", "")})
    assert response.status_code == 200


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(term=st.text(max_size=120))
def test_any_search_of_the_big_lists_gives_a_page(admin_client, term):
    term = term.replace("\x00", "")
    for url in (
        reverse("admin:integrations_inboundevent_changelist"),
        reverse("admin:ivr_surveytrigger_changelist"),
    ):
        assert admin_client.get(url, {"q": term}).status_code == 200
