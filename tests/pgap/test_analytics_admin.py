"""The P-GAP page in the admin: scoped to the user's accounts, filters validated from the
query string, the drill-down to conversations, the CSV export and coaching periods."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pgap.admin.analytics import period_label
from pgap.models import CoachingPeriod
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import CoachingPeriodFactory, PgapPairFactory

pytestmark = pytest.mark.django_db

PAGE = "admin:pgap_pgappair_changelist"
CONVERSATIONS = "admin:pgap_pgappair_conversations"
EXPORT = "admin:pgap_pgappair_export"
PERMS = ["view_pgappair", "view_coachingperiod", "add_coachingperiod", "change_coachingperiod"]


def pair(mapping, agent: int, customer: int, days_ago: float = 1, **extra):
    return PgapPairFactory(
        prediction__mapping=mapping,
        prediction__score=agent,
        response__rating=customer,
        response__rating_time=timezone.now() - timedelta(days=days_ago),
        **extra,
    )


@pytest.fixture
def mine(db):
    return IvrMappingFactory(name="Support DK", account=AccountFactory(name="Mine"))


@pytest.fixture
def theirs(db):
    return IvrMappingFactory(name="THEIRS queue", account=AccountFactory(name="THEIRS"))


@pytest.fixture
def staff(client, staff_user_factory, mine):
    client.force_login(staff_user_factory("ann", mine.account, perms=PERMS))
    return client


def get(client, name: str, query: str = ""):
    return client.get(reverse(name) + query)


def test_the_page_shows_the_pairs_numbers_chart_and_matrix(staff, mine):
    # given gaps +2, 0, −1
    pair(mine, 9, 7)
    pair(mine, 8, 8)
    pair(mine, 9, 10)
    # when
    response = get(staff, PAGE)
    # then
    assert response.status_code == 200
    page = response.content.decode()
    overall = response.context["data"].overall
    assert (overall.pairs, round(overall.mean_gap, 2)) == (3, 0.33)
    assert "+0.33" in page and "66.7 %" in page  # mean gap, within ±1
    for chart in ("pgap-gap-chart", "pgap-nps-chart", "pgap-gap-bars"):
        assert f'<svg class="pgap-chart" id="{chart}"' in page
    assert 'id="pgap-matrix"' in page
    assert "Support DK" in page and "Karla" in page
    assert "<script" not in page.split('id="content-main"')[1]  # no JavaScript of ours


def test_a_staff_user_sees_only_their_accounts(staff, mine, theirs):
    # given a pair in each account
    pair(mine, 9, 7)
    pair(theirs, 1, 10)
    # when
    response = get(staff, PAGE)
    # then
    page = response.content.decode()
    assert response.context["data"].overall.pairs == 1
    assert "THEIRS" not in page
    # and asking for their account or mapping is a form error, not their data
    for query in (f"?account={theirs.account_id}", f"?mapping={theirs.pk}"):
        response = get(staff, PAGE, query)
        assert response.status_code == 200
        assert response.context["form"].errors
        assert "data" not in response.context


@pytest.mark.parametrize(
    "query",
    [
        "?period=nonsense",
        "?period=week&week=2025-W60",
        "?period=week&week=abc",
        "?period=month&month=2025-13",
        "?period=month&month=9999-12",
        "?period=custom&start=2025-13-45",
        "?period=custom&start=2025-03-10&end=2025-03-01",
        "?period=custom&start=0001-01-01&end=9999-12-31",
        "?period=custom&end=9999-12-31",
        "?period=custom&start=9999-12-20&end=9999-12-30",
        "?period=custom&start=0001-01-01&end=0001-01-09",
        "?period=week&week=9999-W51",
        "?period=coaching",
        "?period=coaching&coaching=abc",
        "?account=99999999999999999999",
        "?mapping=%00",
        "?agent=%00",
        "?by=year",
    ],
)
def test_bad_filter_input_shows_the_forms_errors(staff, query):
    response = get(staff, PAGE, query)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "errorlist" in response.content.decode()


def test_period_filters_choose_the_range(staff, mine):
    pair(mine, 9, 7, days_ago=2)
    pair(mine, 9, 7, days_ago=20)
    pair(mine, 9, 7, days_ago=60)
    counts = {
        query: get(staff, PAGE, query).context["data"].overall.pairs
        for query in ("?period=7", "?period=30", "?period=90", "?period=month", "?period=week")
    }
    assert counts["?period=7"] == 1
    assert counts["?period=30"] == 2
    assert counts["?period=90"] == 3
    today = timezone.localdate()
    custom = f"?period=custom&start={today - timedelta(days=21)}&end={today}"
    assert get(staff, PAGE, custom).context["data"].overall.pairs == 2


def test_the_filters_show_the_default_period_so_show_keeps_the_figures(staff, mine):
    # given pairs 2, 20 and 60 days ago
    for days_ago in (2, 20, 60):
        pair(mine, 9, 7, days_ago=days_ago)
    # when the page opens with no query
    response = get(staff, PAGE)
    # then the Period dropdown selects the period shown (the last 90 days)
    page = response.content.decode()
    assert response.context["selection"].label.startswith("Last 90 days")
    assert '<option value="90" selected>Last 90 days</option>' in page
    assert '<option value="7" selected>' not in page
    assert '<option value="week" selected>Week</option>' in page  # trend by
    # and Show without changes (the form's values, blanks for the empty fields) keeps them
    form = response.context["form"]
    shown = {field.name: field.value() or "" for field in form}
    again = staff.get(reverse(PAGE), shown)
    assert again.context["selection"].label == response.context["selection"].label
    assert again.context["data"].overall.pairs == response.context["data"].overall.pairs == 3


def test_a_coaching_period_narrows_to_its_dates_and_agents(staff, mine):
    today = timezone.localdate()
    pair(mine, 9, 7, days_ago=2)  # karla, in the period
    pair(mine, 9, 7, days_ago=2, prediction__agent_email="jonas@corp.example")  # not coached
    pair(mine, 9, 7, days_ago=40)  # karla, before the period
    period = CoachingPeriodFactory(
        account=mine.account,
        starts_on=today - timedelta(days=7),
        ends_on=today,
        agent_emails=["karla@corp.example"],
    )
    response = get(staff, PAGE, f"?period=coaching&coaching={period.pk}")
    assert response.context["data"].overall.pairs == 1
    assert period.name in response.context["selection"].label


def test_a_user_without_the_view_permission_is_refused(client, staff_user_factory, mine):
    client.force_login(staff_user_factory("bob", mine.account, perms=["view_account"]))
    for name in (PAGE, CONVERSATIONS, EXPORT):
        assert get(client, name).status_code == 403


def test_a_matrix_cell_opens_its_conversations_with_links(staff, mine, settings):
    # given two pairs in the cell (9, 7), one of them from one of our surveys
    settings.DIXA_APP_URL = "https://acme.dixa.com"
    trigger = SurveyTriggerFactory(mapping=mine, csid=777001, dedupe_key="777001:x")
    surveyed = pair(mine, 9, 7, response__trigger=trigger)
    pair(mine, 9, 7)
    pair(mine, 5, 5)
    # when the cell's link is followed
    page = get(staff, PAGE).content.decode()
    assert "agent_score=9&amp;customer_score=7" in page
    response = get(staff, CONVERSATIONS, "?agent_score=9&customer_score=7")
    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert len(response.context["rows"]) == 2
    assert f"https://acme.dixa.com/conversation/{surveyed.csid}" in body
    assert reverse("admin:ivr_surveytrigger_change", args=[trigger.pk]) in body


def test_conversations_refuse_a_cell_outside_0_to_10(staff):
    response = get(staff, CONVERSATIONS, "?agent_score=11")
    assert response.status_code == 200
    assert "agent_score" in response.context["form"].errors


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_csv_export_streams_the_filtered_pairs_of_the_users_accounts(staff, mine, theirs):
    # given two of our pairs by two agents and one of theirs
    karla = pair(mine, 9, 7)
    pair(mine, 8, 8, prediction__agent_email="jonas@corp.example")
    pair(theirs, 1, 1)
    # when the page's CSV link is followed with an agent filter
    response = get(staff, EXPORT, "?period=30&agent=karla@corp.example")
    # then
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[:2] == ["answered_at", "account"] and header[-1] == "dixa_url"
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["csid"], row["agent_score"], row["customer_score"], row["gap"]) == (
        str(karla.csid),
        "9",
        "7",
        "2",
    )
    assert row["dixa_url"].endswith(f"/conversation/{karla.csid}")


def test_csv_cells_cannot_run_as_spreadsheet_formulas(staff, mine):
    pair(mine, 9, 7, prediction__agent_name="=HYPERLINK(1)")
    header, row = read_csv(get(staff, EXPORT))
    assert dict(zip(header, row, strict=True))["agent_name"] == "'=HYPERLINK(1)"


def test_csv_export_with_bad_filters_answers_400_with_the_errors(staff):
    response = get(staff, EXPORT, "?period=custom&start=nope")
    assert response.status_code == 400
    assert response.context["form"].errors


def test_a_coaching_period_is_created_with_agents_one_per_line(staff, mine):
    # when
    response = staff.post(
        reverse("admin:pgap_coachingperiod_add"),
        {
            "account": mine.account_id,
            "name": "Spring coaching",
            "starts_on": "2025-03-01",
            "ends_on": "2025-03-31",
            "agent_emails": "karla@corp.example\n jonas@corp.example,karla@corp.example\n",
        },
    )
    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    period = CoachingPeriod.objects.get()
    assert period.agent_emails == ["karla@corp.example", "jonas@corp.example"]
    listing = get(staff, "admin:pgap_coachingperiod_changelist").content.decode()
    assert f"period=coaching&amp;coaching={period.pk}" in listing


@pytest.mark.parametrize(
    ("field", "value"),
    [("agent_emails", "not an email"), ("ends_on", "2025-02-01")],
)
def test_a_coaching_period_refuses_bad_agents_and_an_end_before_its_start(
    staff, mine, field, value
):
    data = {
        "account": mine.account_id,
        "name": "Spring",
        "starts_on": "2025-03-01",
        "ends_on": "2025-03-31",
        "agent_emails": "",
        field: value,
    }
    response = staff.post(reverse("admin:pgap_coachingperiod_add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not CoachingPeriod.objects.exists()


def test_a_coaching_period_of_another_account_cannot_be_chosen(staff, theirs):
    period = CoachingPeriodFactory(account=theirs.account)
    response = get(staff, PAGE, f"?period=coaching&coaching={period.pk}")
    assert "coaching" in response.context["form"].errors


def test_trend_periods_are_labelled_in_iso_8601():
    monday = timezone.make_aware(timezone.datetime(2026, 9, 7, 0, 0))
    assert period_label(monday, "week") == "2026-09-07"
    assert period_label(monday.replace(day=1), "month") == "2026-09"


def test_two_agents_of_one_name_are_told_apart_by_their_email(staff, mine):
    pair(mine, 9, 7, prediction__agent_name="Noah", prediction__agent_email="noah.a@corp.example")
    pair(mine, 8, 8, prediction__agent_name="Noah", prediction__agent_email="noah.b@corp.example")
    table = get(staff, PAGE).content.decode().split('id="pgap-agents"', 1)[1].split("</table>")[0]
    assert table.count(">Noah</a>") == 2
    assert "noah.a@corp.example</span>" in table and "noah.b@corp.example</span>" in table


def test_the_agent_filter_takes_an_address_in_any_case_and_says_the_span_in_iso(staff, mine):
    pair(mine, 9, 7, prediction__agent_email="karla@corp.example")
    page = get(staff, PAGE, "?agent=%20Karla@Corp.Example&period=custom&start=2026-01-01")
    assert page.context["data"].overall.pairs == 1
    assert "Custom range, 2026-01-01 – " in page.content.decode()
