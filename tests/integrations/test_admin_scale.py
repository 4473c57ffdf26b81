"""The admin's lists stay cheap as tables grow: exact searches on their indexes, no scans
for filters or the date hierarchy, a paginator that counts at most CAP + 1 rows, a constant
number of queries per page. (Their speed at a million rows is measured by `make bench
BENCH_ARGS=admin`, never timed here.)"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.admin import paginator
from integrations.models import InboundEvent
from ivr.models import SurveyTrigger
from ivr.selectors import mappings_with_recent_counts
from tests.integrations.factories import AccountFactory, InboundEventFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db

EVENTS = reverse("admin:integrations_inboundevent_changelist")
SURVEYS = reverse("admin:ivr_surveytrigger_changelist")
MAPPINGS = reverse("admin:ivr_ivrmapping_changelist")
PAGES = [
    EVENTS,
    EVENTS + "?outcome__exact=skipped&received_at_within=7",
    EVENTS + "?event_type=ConversationClosed",
    EVENTS + "?q=123456",
    EVENTS + "?q=jane@example.com",
    SURVEYS,
    SURVEYS + "?status__exact=failed&last_status_code_class=5",
    SURVEYS + "?q=123456",
    MAPPINGS,
    reverse("admin:integrations_rejecteddelivery_changelist"),
]


def _seed(account, mapping, n):
    for i in range(n):
        InboundEventFactory(account=account, event_type="ConversationClosed", csid=123456 + i)
        SurveyTriggerFactory(mapping=mapping, status=SurveyTrigger.Status.FAILED)


def _queries(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("url", PAGES)
def test_a_page_makes_as_many_queries_for_three_rows_as_for_thirty(admin_client, url):
    # given a few rows
    mapping = IvrMappingFactory()
    _seed(mapping.account, mapping, 3)
    admin_client.get(url)  # sessions, content types: cached from here on
    few = len(_queries(admin_client, url))
    # when ten times as many are stored
    _seed(mapping.account, mapping, 27)
    # then the page makes the same number of queries
    assert len(_queries(admin_client, url)) == few


@pytest.mark.parametrize("url", PAGES)
def test_no_page_scans_for_distinct_values_extremes_or_a_full_count(admin_client, url):
    mapping = IvrMappingFactory()
    _seed(mapping.account, mapping, 2)
    for sql in _queries(admin_client, url):
        upper = sql.upper()
        assert "DISTINCT" not in upper, sql
        assert "MIN(" not in upper and "MAX(" not in upper, sql
        if upper.startswith("SELECT COUNT(") and ("inboundevent" in sql or "surveytrigger" in sql):
            assert "LIMIT" in upper, sql  # the capped count, never the whole table


def test_csid_and_guid_searches_compare_the_columns_not_their_upper_text(admin_client):
    trigger = SurveyTriggerFactory(csid=424242)
    for url in (EVENTS + "?q=424242", SURVEYS + "?q=424242", SURVEYS + f"?q={trigger.guid}"):
        sql = " ".join(_queries(admin_client, url))
        assert "UPPER(" not in sql.upper()
        assert "::text" not in sql


def test_search_finds_events_by_csid_email_phone_and_event_id(admin_client, account):
    # given a close from Jane and another event
    from tests.ivr.helpers import stored_event

    jane = stored_event(account, csid=31337)
    other = InboundEventFactory(account=account, event_id="evt-other")
    cases = {
        "31337": jane,
        "JANE@example.com": jane,
        "+4520304050": jane,
        "evt-other": other,
    }
    for term, expected in cases.items():
        # when an admin searches for the term
        response = admin_client.get(EVENTS, {"q": term})
        # then exactly that event is listed
        shown = list(response.context["cl"].result_list)
        assert shown == [expected], term
    assert list(admin_client.get(EVENTS, {"q": "nobody@x.io"}).context["cl"].result_list) == []


def test_search_finds_surveys_by_guid_csid_email_and_phone(admin_client):
    trigger = SurveyTriggerFactory(csid=5150, respondent_email="bo@example.com")
    SurveyTriggerFactory(csid=5151, respondent_email="al@example.com", respondent_phone="+451")
    for term in (str(trigger.guid), "5150", "Bo@Example.com"):
        shown = list(admin_client.get(SURVEYS, {"q": term}).context["cl"].result_list)
        assert shown == [trigger], term


@pytest.mark.parametrize("term", ["4520304050", "45 20 30 40 50", "+4520304050"])
def test_a_phone_typed_with_or_without_its_plus_finds_events_and_surveys(
    admin_client, account, term
):
    # given Jane's close (Dixa sends her phone as +4520304050) and her survey
    from tests.ivr.helpers import stored_event

    jane = stored_event(account, csid=31337)
    survey = SurveyTriggerFactory(csid=5150, respondent_phone="+4520304050")
    SurveyTriggerFactory(csid=5151, respondent_phone="+4599999999")
    for url, expected in ((EVENTS, jane), (SURVEYS, survey)):
        # when an admin searches for her phone as people type it
        sql = " ".join(_queries(admin_client, f"{url}?q={term.replace(' ', '+')}"))
        shown = list(admin_client.get(url, {"q": term}).context["cl"].result_list)
        # then she is found, by an exact comparison on the column (no LIKE, no UPPER)
        assert shown == [expected], (url, term)
        assert "LIKE" not in sql.upper() and "UPPER(" not in sql.upper()


def test_the_received_filter_keeps_recent_events(admin_client, account):
    old = InboundEventFactory(account=account)
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=9))
    new = InboundEventFactory(account=account)
    week = admin_client.get(EVENTS, {"received_at_within": "7"}).context["cl"].result_list
    month = admin_client.get(EVENTS, {"received_at_within": "30"}).context["cl"].result_list
    assert list(week) == [new]
    assert set(month) == {new, old}


def test_the_status_class_filter_keeps_that_class(admin_client):
    failed = SurveyTriggerFactory(last_status_code=503)
    SurveyTriggerFactory(last_status_code=201)
    unanswered = SurveyTriggerFactory(last_status_code=None)
    five = admin_client.get(SURVEYS, {"last_status_code_class": "5"}).context["cl"].result_list
    none = admin_client.get(SURVEYS, {"last_status_code_class": "none"}).context["cl"]
    assert list(five) == [failed]
    assert list(none.result_list) == [unanswered]


def test_a_long_list_says_more_than_the_cap_instead_of_counting(admin_client, monkeypatch):
    # given more events than the paginator counts
    monkeypatch.setattr(paginator.CappedPaginator, "cap", 5)
    account = AccountFactory()
    InboundEventFactory.create_batch(8, account=account)
    # when the list is shown
    page = admin_client.get(EVENTS).content.decode()
    # then it says "more than 5", not the real number
    assert "more than 5 inbound events" in page
    # and a short list gives its count
    monkeypatch.setattr(paginator.CappedPaginator, "cap", 50)
    assert "8 inbound events" in admin_client.get(EVENTS).content.decode()


def test_recent_counts_count_the_last_24_hours_per_mapping():
    mapping, other = IvrMappingFactory(), IvrMappingFactory()
    now = timezone.now()
    Status = SurveyTrigger.Status
    SurveyTriggerFactory(mapping=mapping, status=Status.DELIVERED, finished_at=now)
    SurveyTriggerFactory(mapping=mapping, status=Status.DELIVERED, finished_at=now)
    SurveyTriggerFactory(mapping=mapping, status=Status.FAILED, finished_at=now)
    SurveyTriggerFactory(
        mapping=mapping, status=Status.DELIVERED, finished_at=now - timedelta(hours=25)
    )
    SurveyTriggerFactory(mapping=other, status=Status.PENDING)
    counted = {
        m.pk: (m.delivered_24h, m.failed_24h)
        for m in mappings_with_recent_counts(type(mapping).objects.all())
    }
    assert counted == {mapping.pk: (2, 1), other.pk: (0, 0)}


def test_a_staff_users_lists_still_show_only_their_account(client, staff_user_factory):
    mine, theirs = IvrMappingFactory(), IvrMappingFactory()
    _seed(mine.account, mine, 1)
    _seed(theirs.account, theirs, 1)
    user = staff_user_factory(
        "ops", mine.account, perms=["view_inboundevent", "view_surveytrigger", "view_ivrmapping"]
    )
    client.force_login(user)
    for url in (EVENTS, SURVEYS, MAPPINGS):
        rows = client.get(url).context["cl"].result_list
        assert {row.account_id for row in rows} == {mine.account_id}, url
