"""The admin's first page: per account and mapping, today and the last 7 days, from the
daily counts (closes, delivered, skipped by reason, dead letters; held now), a 30-day chart
and the banners. Scoped to the user's accounts; no asset from another host."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.alerts.models import AlertIncident
from integrations.models import HandlerRun, InboundEvent
from integrations.services.roles import OPERATOR
from ivr.models import DailyCount, SurveyTrigger
from ivr.services.daily_counts import daily_counts_count, daily_counts_refresh
from tests.integrations.factories import (
    AccountFactory,
    InboundEventFactory,
    SigningSecretFactory,
)
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db
Status = SurveyTrigger.Status


def close(account, queue_id: str, *, skipped: str = "", days_ago: int = 0) -> InboundEvent:
    """A ConversationClosed event, and what the survey handler made of it."""
    event = InboundEventFactory(
        account=account,
        event_type="ConversationClosed",
        queue_id=queue_id,
        outcome="skipped" if skipped else "handled",
    )
    if days_ago:
        InboundEvent.objects.filter(pk=event.pk).update(
            received_at=timezone.now() - timedelta(days=days_ago)
        )
    HandlerRun.objects.create(
        event=event,
        handler="survey",
        outcome="skipped" if skipped else "handled",
        reason=skipped,
        finished_at=timezone.now(),
    )
    return event


def survey(mapping, status, *, days_ago: int = 0) -> SurveyTrigger:
    trigger = SurveyTriggerFactory(mapping=mapping, status=status)
    if days_ago:
        SurveyTrigger.objects.filter(pk=trigger.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return trigger


@pytest.fixture
def traffic():
    """Acme: a support mapping with today's and last week's traffic, and closes of a queue no
    mapping takes. Globex: another account's traffic."""
    acme = AccountFactory(name="Acme")
    SigningSecretFactory(account=acme)
    support = IvrMappingFactory(account=acme, name="Support", queue_id="q-support")
    for _ in range(3):
        close(acme, "q-support")
    close(acme, "q-support", skipped="quarantine: jane@example.com was surveyed within 30 days")
    close(acme, "q-support", skipped="no assigned agent: nps.today requires one to send a survey")
    close(acme, "q-support", days_ago=3)
    close(acme, "q-sales", skipped="no enabled IVR mapping for queue q-sales")
    for status in (Status.DELIVERED, Status.DELIVERED, Status.FAILED, Status.HELD):
        survey(support, status)
    survey(support, Status.DELIVERED, days_ago=3)
    survey(support, Status.FAILED, days_ago=20)
    globex = AccountFactory(name="Globex")
    other = IvrMappingFactory(account=globex, name="Globex queue", queue_id="q-g")
    close(globex, "q-g")
    survey(other, Status.FAILED)
    daily_counts_refresh(days=30)
    return {"acme": acme, "support": support, "globex": globex}


def counts(**filters) -> dict[tuple, int]:
    return {
        (row.mapping.name if row.mapping else None, row.metric, row.reason): row.count
        for row in DailyCount.objects.filter(**filters).select_related("mapping")
    }


def test_a_day_is_counted_per_account_and_mapping(traffic):
    today = counts(account=traffic["acme"], day=timezone.localdate())
    assert today == {
        ("Support", "closes", ""): 5,
        ("Support", "skipped", "quarantine"): 1,
        ("Support", "skipped", "no agent"): 1,
        ("Support", "surveys", ""): 4,
        ("Support", "delivered", ""): 2,
        ("Support", "dead", ""): 1,
        (None, "closes", ""): 1,
        (None, "skipped", "no mapping"): 1,
    }
    three_days_ago = timezone.localdate() - timedelta(days=3)
    assert counts(account=traffic["acme"], day=three_days_ago) == {
        ("Support", "closes", ""): 1,
        ("Support", "surveys", ""): 1,
        ("Support", "delivered", ""): 1,
    }


def test_counting_a_day_again_replaces_its_counts():
    mapping = IvrMappingFactory(queue_id="q")
    close(mapping.account, "q")
    daily_counts_count(day=timezone.localdate())
    close(mapping.account, "q")
    daily_counts_count(day=timezone.localdate())
    assert counts(metric="closes") == {(mapping.name, "closes", ""): 2}


def dashboard(client) -> str:
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def row_of(page: str, name: str) -> str:
    match = re.search(
        rf"<tr>\s*<th scope=\"row\">(?:<a [^>]*>)?{re.escape(name)}.*?</tr>", page, re.S
    )
    assert match, f"no row for {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


def test_the_dashboard_shows_today_and_the_last_7_days_per_mapping(admin_client, traffic):
    page = dashboard(admin_client)
    support = row_of(page, "Support")
    # closes, delivered, skips by reason, dead letters (today / 7 days), held now
    assert re.search(r"5 / 6 .*2 / 3 .*no agent 1 / 1 .*quarantine 1 / 1 .*1 / 1 .*1", support), (
        support
    )
    assert "no mapping 1 / 1" in row_of(page, "(no mapping)")
    dead = (
        reverse("admin:ivr_surveytrigger_changelist")
        + "?status__exact=failed&amp;mapping__id__exact="
    )
    assert f"{dead}{traffic['support'].pk}" in page


def test_the_dashboard_draws_30_days_in_svg_from_this_host_only(admin_client, traffic):
    page = dashboard(admin_client)
    lines = re.findall(r'<polyline class="line (\w+)" points="([^"]+)"', page)
    assert [name for name, _ in lines] == ["closes", "delivered", "skipped", "dead"]
    assert all(len(points.split()) == 30 for _, points in lines)
    assert "Dead letters: 3" in page  # the one of 20 days ago is in the chart
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not re.match(r"(https?:)?//", url), f"asset from another host: {url}"


def test_banners_name_what_needs_attention(admin_client, traffic):
    now = timezone.now()
    AlertIncident.objects.create(
        account=traffic["acme"],
        condition="npstoday_key_disabled",
        detail="nps.today key disabled at 10:00 UTC: 401",
        opened_at=now,
        last_seen_at=now,
    )
    page = dashboard(admin_client)
    assert "nps.today key disabled" in page and "401" in page
    # each incident links to where it is dealt with
    delivery = reverse("admin:ivr_npstodaydelivery_change", args=[traffic["acme"].pk])
    assert f'<a href="{delivery}">Re-enable it</a>' in page
    # Globex has no signing secret; Acme has one
    assert re.search(r"No signing secret</strong> · Globex", page)
    assert not re.search(r"No signing secret</strong> · Acme", page)


def test_a_staff_user_sees_only_their_accounts_on_the_dashboard(client, django_user_model, traffic):
    user = django_user_model.objects.create_user("olga", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATOR))
    traffic["acme"].members.add(user)
    client.force_login(user)
    page = dashboard(client)
    assert "Support" in page and "Acme" in page
    assert "Globex" not in page
    assert "Dead letters: 2" in page  # Acme's two, not Globex's


def test_the_dashboards_queries_do_not_grow_with_the_traffic(admin_client, traffic):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            dashboard(admin_client)
        return len(captured)

    before = queries()
    for _ in range(30):
        close(traffic["acme"], "q-support")
        survey(traffic["support"], Status.DELIVERED)
    daily_counts_refresh(days=1)
    assert queries() == before


def test_before_the_first_count_the_dashboard_says_so_instead_of_no_traffic(admin_client):
    # given closes today that beat has not counted yet
    close(AccountFactory(), "q-dk")
    page = dashboard(admin_client)
    # then it says when they will show and where they are now, never "no closes"
    assert "not counted yet: counted every 5 minutes" in page
    assert "No closes or surveys in the last 7 days" not in page
    assert reverse("admin:ivr_surveytrigger_changelist") in page


def test_once_counted_the_dashboard_says_when_and_how_often(admin_client, traffic):
    assert "again every 5 minutes" in dashboard(admin_client)
