"""The customer's email and phone are stored (indexed) with each event at ingest, and copied
onto events stored before by the backfill, so the customer lookup never scans JSON."""

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.models import InboundEvent
from integrations.services.contacts import requester_contacts
from tests.ivr.helpers import closed_body, stored_event

pytestmark = pytest.mark.django_db


def test_ingest_stores_the_requesters_email_lower_cased_and_phone(account):
    # given a close from Jane, her email in mixed case
    requester = {"name": "Jane", "email": "Jane@Example.COM", "phone": "+4520304050"}
    # when it is stored
    event = stored_event(account, requester=requester)
    # then her contacts are on the event's row
    assert (event.requester_email, event.requester_phone) == ("jane@example.com", "+4520304050")


def test_camel_case_bodies_give_the_same_contacts(account):
    event = stored_event(account, closed_body(casing="camel"))
    assert (event.requester_email, event.requester_phone) == ("jane@example.com", "+4520304050")


@pytest.mark.parametrize(
    "requester",
    [None, "jane@example.com", {"email": None, "phone": None}, {"email": ["x"], "phone": {}}],
)
def test_a_missing_or_odd_requester_stores_nothing(account, requester):
    event = stored_event(account, requester=requester)
    assert (event.requester_email, event.requester_phone) == ("", "")


def test_overlong_contacts_are_cut_to_their_columns():
    email, phone = requester_contacts(
        {"conversation": {"requester": {"email": "a" * 400, "phone": 9 * 10**60}}}
    )
    assert (len(email), len(phone)) == (254, 40)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_any_json_gives_storable_text(value):
    email, phone = requester_contacts({"conversation": {"requester": value}})
    for text in (email, phone):
        assert isinstance(text, str)
        assert "\x00" not in text
    assert len(email) <= 254 and len(phone) <= 40


def test_backfill_copies_contacts_of_events_stored_before(account):
    # given two closes stored before ingest kept the contacts (blanked here), and one without
    first = stored_event(account, csid=1)
    second = stored_event(account, csid=2, requester={"email": "Bo@Example.com", "phone": None})
    nobody = stored_event(account, csid=3, requester=None)
    InboundEvent.objects.update(requester_email="", requester_phone="")
    # when the backfill runs, in batches of one
    call_command("backfill_requesters", "--batch-size=1")
    # then each close has its requester's contacts again
    contacts = dict(InboundEvent.objects.values_list("pk", "requester_email").order_by("pk"))
    assert contacts == {first.pk: "jane@example.com", second.pk: "bo@example.com", nobody.pk: ""}
    assert InboundEvent.objects.get(pk=first.pk).requester_phone == "+4520304050"
