"""A record's page offers, as buttons, the list's actions that would change it: each asks
first, runs on that row alone, is audited, and leads to the list showing the row."""

import pytest
from django.urls import reverse

from integrations.audit.models import AuditEntry
from integrations.models import InboundEvent
from ivr.models import SurveyTrigger
from tests.integrations.factories import InboundEventFactory
from tests.ivr.factories import SurveyTriggerFactory
from tests.support.admin_pages import buttons

pytestmark = pytest.mark.django_db
Status = SurveyTrigger.Status


def test_a_dead_letters_page_offers_resend_and_a_delivered_ones_does_not(admin_client):
    dead = SurveyTriggerFactory(status=Status.FAILED)
    delivered = SurveyTriggerFactory(status=Status.DELIVERED)
    page = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[dead.pk]))
    assert "Resend" in buttons(page.content.decode())
    assert "Cancel" not in buttons(page.content.decode())  # a dead letter is not cancellable
    page = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[delivered.pk]))
    assert buttons(page.content.decode()) == {}


def test_the_button_asks_first_then_resends_that_survey_alone_and_audits_it(admin_client):
    # given a dead letter, and another one beside it
    dead, other = (SurveyTriggerFactory(status=Status.FAILED) for _ in range(2))
    page = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[dead.pk]))
    fields = buttons(page.content.decode())["Resend"]
    url = fields.pop("url")
    # when the admin presses it: a confirmation naming the one survey, nothing changed yet
    asked = admin_client.post(url, fields)
    assert asked.status_code == 200
    assert "Resend 1 of 1 selected?" in asked.content.decode()
    dead.refresh_from_db()
    assert dead.status == Status.FAILED
    # and confirms: that survey is resent, the other not, and the trail names it
    done = admin_client.post(url, {**fields, "confirmed": "yes"})
    assert done.status_code == 302 and done.url == url  # the list, showing this survey
    dead.refresh_from_db()
    other.refresh_from_db()
    assert dead.status == Status.PENDING and other.status == Status.FAILED
    entry = AuditEntry.objects.get(action="survey resend")
    assert list(entry.targets.values_list("object_id", flat=True)) == [str(dead.pk)]
    listing = admin_client.get(url).content.decode()
    assert f"/{dead.pk}/change/" in listing and f"/{other.pk}/change/" not in listing


def test_an_events_page_offers_reprocess(admin_client):
    event = InboundEventFactory(status=InboundEvent.Status.PROCESSED)
    page = admin_client.get(reverse("admin:integrations_inboundevent_change", args=[event.pk]))
    offered = buttons(page.content.decode())
    assert "Reprocess" in offered
    assert "Reprocess through the survey handler only" in offered


def test_who_may_only_view_gets_no_buttons(client, staff_user_factory):
    dead = SurveyTriggerFactory(status=Status.FAILED)
    client.force_login(staff_user_factory("viewer", dead.account, perms=("view_surveytrigger",)))
    page = client.get(reverse("admin:ivr_surveytrigger_change", args=[dead.pk]))
    assert page.status_code == 200 and buttons(page.content.decode()) == {}


def test_a_malformed_or_unknown_id_leads_back_as_django_does_never_a_500(admin_client):
    for bad in ("abc", "999999"):
        page = admin_client.get(f"/admin/ivr/surveytrigger/{bad}/change/")
        assert page.status_code == 302, bad  # to the admin's index, saying it does not exist


def test_another_tenants_survey_cannot_be_acted_on_through_the_buttons(client, staff_user_factory):
    mine = SurveyTriggerFactory(status=Status.FAILED)
    theirs = SurveyTriggerFactory(status=Status.FAILED)
    client.force_login(
        staff_user_factory(
            "staff", mine.account, perms=("view_surveytrigger", "change_surveytrigger")
        )
    )
    url = reverse("admin:ivr_surveytrigger_changelist") + f"?id__exact={theirs.pk}"
    client.post(
        url, {"action": "resend", "index": "0", "_selected_action": theirs.pk, "confirmed": "yes"}
    )
    theirs.refresh_from_db()
    assert theirs.status == Status.FAILED
    assert not AuditEntry.objects.exists()
