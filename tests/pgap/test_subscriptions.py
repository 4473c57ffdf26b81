"""nps.today's response subscriptions: the client calls, the service against the fake
nps.today, the admin flows, and the loop closed over real HTTP (the fake posting a
customer's answer to our live server)."""

import re

import httpx
import pytest
import respx
from django.contrib import messages as django_messages
from django.urls import reverse

from integrations.clients import npstoday
from integrations.clients.http import ApiUnavailable
from pgap.models import ResponseHook, ResponseSubscription, SurveyResponse
from pgap.services.hooks import response_hook_authenticate, response_hook_create
from pgap.services.subscriptions import (
    SubscriptionError,
    response_subscription_remove,
    response_subscriptions_create,
)
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db

NPS = "https://nps.test"
BASE = "https://relay.example"
State = ResponseSubscription.State


@pytest.fixture
def tenant(db):
    """An account with mappings on campaigns 7232 (twice) and 7300."""
    account = AccountFactory(npstoday_api_key="nps-test-key")
    IvrMappingFactory(account=account, campaign_id=7232, queue_id="q-1")
    IvrMappingFactory(account=account, campaign_id=7232, queue_id="q-2")
    IvrMappingFactory(account=account, campaign_id=7300, queue_id="q-3", enabled=False)
    return account


# --- the client -----------------------------------------------------------------------------


@pytest.fixture
def nps(settings):
    settings.NPSTODAY_API_URL = NPS
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.mark.parametrize(
    "answer, expected",
    [
        (httpx.Response(200, json={"id": 77}), "77"),
        (httpx.Response(200, json={"Id": "sub-9"}), "sub-9"),
        (httpx.Response(201, headers={"Location": f"{NPS}/webhooks/subscriptions/88"}), "88"),
        (httpx.Response(200, json={}), ""),
    ],
)
def test_subscribe_sends_the_connectors_body_and_reads_the_id(nps, answer, expected):
    # given
    route = nps.post(f"{NPS}/webhooks/subscriptions/responses").mock(return_value=answer)
    # when
    got = npstoday.subscribe_responses("k", 7232, f"{BASE}/api/npstoday/responses/prh_s3cret")
    # then
    assert got == expected
    request = route.calls.last.request
    assert request.headers["Authorization"] == "apikey k"
    assert request.headers["Idempotency-Key"]
    assert httpx.Response(200, content=request.content).json() == {
        "campaignId": 7232,
        "targetUrl": f"{BASE}/api/npstoday/responses/prh_s3cret",
        "eventType": "NewResponse",
    }


def test_a_refusal_is_reported_without_our_secret(nps):
    nps.post(f"{NPS}/webhooks/subscriptions/responses").mock(
        return_value=httpx.Response(400, text="bad targetUrl https://x/prh_s3cret")
    )
    with pytest.raises(ApiUnavailable) as raised:
        npstoday.subscribe_responses("k", 7232, f"{BASE}/api/npstoday/responses/prh_s3cret")
    assert "answered 400" in str(raised.value)
    assert "prh_s3cret" not in str(raised.value)


def test_delete_tells_a_missing_subscription_from_a_failure(nps):
    nps.delete(f"{NPS}/webhooks/subscriptions/1").mock(return_value=httpx.Response(200))
    nps.delete(f"{NPS}/webhooks/subscriptions/2").mock(return_value=httpx.Response(404))
    nps.delete(f"{NPS}/webhooks/subscriptions/3").mock(return_value=httpx.Response(503))
    nps.delete(f"{NPS}/webhooks/subscriptions/4").mock(side_effect=httpx.ConnectTimeout("x"))
    assert npstoday.delete_subscription("k", "1") is True
    assert npstoday.delete_subscription("k", "2") is False
    with pytest.raises(ApiUnavailable, match="answered 503"):
        npstoday.delete_subscription("k", "3")
    with pytest.raises(ApiUnavailable) as raised:
        npstoday.delete_subscription("k", "4")
    assert str(raised.value) == (
        "nps.today (https://nps.test) did not answer: no connection within 5 s"
    )


# --- the service, against the fake nps.today ---------------------------------------------------


def test_every_campaign_of_the_accounts_mappings_is_subscribed_once(fake_npstoday, tenant):
    # when
    result = response_subscriptions_create(account=tenant, base_url=BASE)
    # then nps.today posts both campaigns to one new hook of ours
    assert result.subscribed == [7232, 7300] and not result.failed
    url = result.issued.url(BASE)
    assert url.startswith(f"{BASE}/api/npstoday/responses/prh_")
    subscriptions = fake_npstoday.subscriptions.values()
    assert sorted((s["campaignId"], s["targetUrl"]) for s in subscriptions) == [
        (7232, url),
        (7300, url),
    ]
    rows = ResponseSubscription.objects.order_by("campaign_id")
    assert [(r.campaign_id, r.state, r.hook) for r in rows] == [
        (7232, State.ACTIVE, result.issued.hook),
        (7300, State.ACTIVE, result.issued.hook),
    ]
    assert {r.subscription_id for r in rows} == {str(s["id"]) for s in subscriptions}
    assert response_hook_authenticate(secret=url.rsplit("/", 1)[1]) == result.issued.hook


def test_subscribing_again_leaves_active_campaigns_alone(fake_npstoday, tenant):
    response_subscriptions_create(account=tenant, base_url=BASE)
    # when
    again = response_subscriptions_create(account=tenant, base_url=BASE)
    # then no second subscription, no new hook
    assert (again.subscribed, again.already, again.issued) == ([], [7232, 7300], None)
    assert len(fake_npstoday.subscriptions) == 2
    assert ResponseHook.objects.count() == 1


def test_a_refused_campaign_is_kept_as_failed_and_taken_up_again_later(fake_npstoday, tenant):
    # given nps.today knows no campaign 7300
    del fake_npstoday.campaigns[7300]
    first = response_subscriptions_create(account=tenant, base_url=BASE)
    failed = ResponseSubscription.objects.get(campaign_id=7300)
    assert (first.subscribed, failed.state) == ([7232], State.FAILED)
    assert "answered 404" in failed.last_error
    # when the campaign exists and the admin subscribes again
    fake_npstoday.campaigns[7300] = "Support CSAT"
    again = response_subscriptions_create(account=tenant, base_url=BASE)
    # then the failed row is taken up, with the new hook
    failed.refresh_from_db()
    assert again.subscribed == [7300]
    assert (failed.state, failed.last_error, failed.hook) == (State.ACTIVE, "", again.issued.hook)
    assert ResponseSubscription.objects.count() == 2


def test_a_hook_no_campaign_took_is_revoked(fake_npstoday, tenant):
    fake_npstoday.push({"status": 500}, {"status": 500})
    result = response_subscriptions_create(account=tenant, base_url=BASE)
    assert sorted(result.failed) == [7232, 7300]
    result.issued.hook.refresh_from_db()
    assert result.issued.hook.revoked_at is not None


def test_an_issued_hook_is_used_as_it_is(fake_npstoday, tenant):
    issued = response_hook_create(account=tenant)
    result = response_subscriptions_create(account=tenant, base_url=BASE, issued=issued)
    assert result.issued is issued and ResponseHook.objects.count() == 1


def test_an_account_without_an_npstoday_key_cannot_subscribe(fake_npstoday):
    with pytest.raises(SubscriptionError, match="no nps.today API key"):
        response_subscriptions_create(account=AccountFactory(), base_url=BASE)


def test_remove_deletes_the_subscription_in_npstoday(fake_npstoday, tenant):
    response_subscriptions_create(account=tenant, base_url=BASE)
    row = ResponseSubscription.objects.get(campaign_id=7232)
    # when
    assert response_subscription_remove(subscription=row) is True
    # then
    assert row.state == State.REMOVED
    assert [s["campaignId"] for s in fake_npstoday.subscriptions.values()] == [7300]
    assert response_subscription_remove(subscription=row) is False  # once


def test_removing_what_npstoday_no_longer_has_marks_it_removed(fake_npstoday, tenant):
    response_subscriptions_create(account=tenant, base_url=BASE)
    fake_npstoday.subscriptions.clear()
    row = ResponseSubscription.objects.get(campaign_id=7232)
    assert response_subscription_remove(subscription=row) is True
    row.refresh_from_db()
    assert (row.state, row.last_error) == (State.REMOVED, "nps.today no longer had it")


def test_a_failed_removal_stays_active_with_its_reason(fake_npstoday, tenant):
    response_subscriptions_create(account=tenant, base_url=BASE)
    row = ResponseSubscription.objects.get(campaign_id=7232)
    fake_npstoday.push({"status": 503})
    with pytest.raises(SubscriptionError, match="answered 503"):
        response_subscription_remove(subscription=row)
    row.refresh_from_db()
    assert row.state == State.ACTIVE and "answered 503" in row.last_error


# --- the admin -------------------------------------------------------------------------------


def notes(response) -> list[str]:
    return [m.message for m in django_messages.get_messages(response.wsgi_request)]


def test_issuing_a_hook_shows_its_url_once_and_subscribes_the_campaigns(
    admin_client, fake_npstoday, tenant, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:pgap_responsehook_add"), {"account": tenant.pk, "subscribe": "on"}
        )
    # then
    assert response.status_code == 302
    shown = " ".join(notes(response))
    [url] = re.findall(r"http://testserver/api/npstoday/responses/prh_[\w-]+", shown)
    hook = ResponseHook.objects.get()
    assert response_hook_authenticate(secret=url.rsplit("/", 1)[1]) == hook
    assert "Subscribed campaign(s) 7232, 7300" in shown
    assert {s["targetUrl"] for s in fake_npstoday.subscriptions.values()} == {url}
    # and the secret shows nowhere once the message was seen
    change = reverse("admin:pgap_responsehook_change", args=[hook.pk])
    assert url in admin_client.get(change).content.decode()  # the message, once
    assert url.rsplit("/", 1)[1] not in admin_client.get(change).content.decode()


def test_issuing_a_hook_with_subscribe_says_the_subscription_is_made(
    admin_client, fake_npstoday, tenant, django_capture_on_commit_callbacks
):
    # when a hook is issued with Subscribe ticked and nps.today takes every campaign
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:pgap_responsehook_add"), {"account": tenant.pk, "subscribe": "on"}
        )
    # then the messages say it is done, naming the hook once, not "give nps.today this URL"
    shown = notes(response)
    hook = ResponseHook.objects.get()
    assert (
        f"Subscribed campaign(s) 7232, 7300 to response hook {hook.prefix}…: nps.today now "
        "posts their new responses to it." in shown
    )
    assert not any("Give nps.today" in note for note in shown)
    assert any(note.startswith("Subscribe gives nps.today this URL (see below)") for note in shown)
    assert not any("hook response hook" in note for note in shown)
    assert f"“{hook.prefix}…” was added successfully" in " ".join(shown)


def test_issuing_a_hook_whose_subscribing_failed_asks_to_give_the_url(
    admin_client, fake_npstoday, tenant, django_capture_on_commit_callbacks
):
    # given nps.today knows no campaign 7300
    del fake_npstoday.campaigns[7300]
    # when a hook is issued with Subscribe ticked
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:pgap_responsehook_add"), {"account": tenant.pk, "subscribe": "on"}
        )
    # then 7300's failure is reported and the URL is to be given to nps.today by hand
    shown = notes(response)
    assert any(note.startswith("Campaign 7300 not subscribed") for note in shown)
    assert any(
        note.startswith("Give nps.today the hook's URL above yourself for any campaign not")
        for note in shown
    )


def test_issuing_a_hook_without_subscribing(admin_client, fake_npstoday, tenant):
    response = admin_client.post(reverse("admin:pgap_responsehook_add"), {"account": tenant.pk})
    assert response.status_code == 302
    assert ResponseHook.objects.count() == 1 and not fake_npstoday.subscriptions
    assert any(note.startswith("Give nps.today this URL now") for note in notes(response))


def test_subscription_actions_subscribe_and_remove(admin_client, fake_npstoday, tenant):
    # given campaign 7232 subscribed and removed again
    response_subscriptions_create(account=tenant, base_url=BASE)
    row = ResponseSubscription.objects.get(campaign_id=7232)
    url = reverse("admin:pgap_responsesubscription_changelist")
    # when
    removed = admin_client.post(
        url, {"action": "remove", "confirmed": "yes", "_selected_action": [row.pk]}, follow=True
    )
    # then
    assert "1 subscription(s) removed" in notes(removed)
    row.refresh_from_db()
    assert row.state == State.REMOVED
    # when the admin subscribes the account's campaigns again
    subscribed = admin_client.post(
        url, {"action": "subscribe", "_selected_action": [row.pk]}, follow=True
    )
    # then only 7232 is subscribed again, to a new hook
    row.refresh_from_db()
    assert row.state == State.ACTIVE
    assert any("Subscribed campaign(s) 7232 to" in n for n in notes(subscribed))
    assert ResponseHook.objects.count() == 2


def test_revoking_a_hook_warns_about_subscriptions_still_posting_to_it(
    admin_client, fake_npstoday, tenant
):
    response_subscriptions_create(account=tenant, base_url=BASE)
    hook = ResponseHook.objects.get()
    response = admin_client.post(
        reverse("admin:pgap_responsehook_changelist"),
        {"action": "revoke", "confirmed": "yes", "_selected_action": [hook.pk]},
        follow=True,
    )
    hook.refresh_from_db()
    assert hook.revoked_at is not None
    assert any("2 active subscription(s) still post" in n for n in notes(response))


@pytest.fixture
def staff_client(client, staff_user_factory, tenant):
    codenames = [
        f"{action}_{model}"
        for action in ("view", "change", "add")
        for model in ("responsehook", "responsesubscription", "surveyresponse")
    ]
    client.force_login(staff_user_factory("staff", tenant, perms=codenames))
    return client


def test_a_staff_user_sees_and_acts_on_their_accounts_rows_only(
    staff_client, fake_npstoday, tenant
):
    # given another account's hook, subscription and response
    theirs = AccountFactory(name="THEIRS", npstoday_api_key="nps-test-key")
    IvrMappingFactory(account=theirs, campaign_id=7232)
    response_subscriptions_create(account=theirs, base_url=BASE)
    their_hook, their_row = ResponseHook.objects.get(), ResponseSubscription.objects.get()
    SurveyResponse.objects.create(account=theirs, response_id="THEIRS-1", rating=1, payload={})
    # when the staff user of `tenant` lists and acts
    for name in ("responsehook", "responsesubscription", "surveyresponse"):
        page = staff_client.get(reverse(f"admin:pgap_{name}_changelist"))
        assert page.status_code == 200 and "THEIRS" not in page.content.decode(), name
    staff_client.post(
        reverse("admin:pgap_responsesubscription_changelist"),
        {"action": "remove", "confirmed": "yes", "_selected_action": [their_row.pk]},
    )
    staff_client.post(
        reverse("admin:pgap_responsehook_changelist"),
        {"action": "revoke", "confirmed": "yes", "_selected_action": [their_hook.pk]},
    )
    refused = staff_client.post(reverse("admin:pgap_responsehook_add"), {"account": theirs.pk})
    for name, pk in (("responsehook", their_hook.pk), ("responsesubscription", their_row.pk)):
        page = staff_client.get(reverse(f"admin:pgap_{name}_change", args=[pk]))
        assert page.status_code == 302, name  # "doesn't exist": back to the index
    # then nothing of theirs changed
    their_row.refresh_from_db()
    their_hook.refresh_from_db()
    assert their_row.state == State.ACTIVE and their_hook.revoked_at is None
    assert "Select a valid choice" in refused.content.decode()
    assert ResponseHook.objects.count() == 1


def test_the_response_list_filters_matched_and_unmatched(admin_client, tenant):
    SurveyResponse.objects.create(account=tenant, response_id="m-1", matched_by="csid", payload={})
    SurveyResponse.objects.create(account=tenant, response_id="u-1", matched_by="", payload={})
    url = reverse("admin:pgap_surveyresponse_changelist")
    unmatched = admin_client.get(url + "?matched=no").content.decode()
    matched = admin_client.get(url + "?matched=yes").content.decode()
    assert "u-1" in unmatched and "m-1" not in unmatched
    assert "m-1" in matched and "u-1" not in matched
    for query in ("?matched=zzz", "?matched_by__exact=guid", "?q=%00", "?csid=x"):
        assert admin_client.get(url + query).status_code < 500, query


# --- the loop over real HTTP ------------------------------------------------------------------


@pytest.mark.postgres
def test_the_fake_posts_a_customers_answer_to_our_live_server(
    live_server, fake_npstoday, transactional_db
):
    # given our survey delivered to nps.today (a member of campaign 7232) …
    account = AccountFactory(npstoday_api_key="nps-test-key")
    trigger = SurveyTriggerFactory(mapping=IvrMappingFactory(account=account), csid=4242)
    npstoday.add_campaign_member(
        api_key="nps-test-key",
        campaign_id=7232,
        body=trigger.payload,
        idempotency_key=str(trigger.guid),
    ).raise_for_status()
    # … and the campaign subscribed to a hook of ours on the live server
    response_subscriptions_create(account=account, base_url=live_server.url)
    # when the customer answers, and nps.today posts it twice
    answered = {
        "rating": 10,
        "comment": "Great",
        "response_id": 31,
        "rating_time": "2025-03-22T10:00:00Z",
    }
    answer = httpx.post(
        f"{fake_npstoday.url}/__fake__/respond", json={"guid": str(trigger.guid), **answered}
    ).json()
    again = fake_npstoday.respond(str(trigger.guid), **answered)
    # then
    assert [d["status"] for d in answer["deliveries"]] == [202]
    assert [d["status"] for d in again] == [200]
    assert (
        answer["response"]["Respondent"]["ExternalId"]
        == trigger.payload["respondent"]["externalId"]
    )
    stored = SurveyResponse.objects.get()
    assert (stored.account, stored.trigger, stored.matched_by) == (account, trigger, "csid")
    assert (stored.rating, stored.comment, stored.csid) == (10, "Great", 4242)


def test_the_hook_url_shown_and_subscribed_is_on_public_url_when_set(
    admin_client, fake_npstoday, tenant, settings, django_capture_on_commit_callbacks
):
    # given the platform sits behind a proxy: the admin's request came to an internal address
    settings.PUBLIC_URL = "https://relay.public.example/"
    expected = "https://relay.public.example/api/npstoday/responses/prh_"
    # when a hook is issued without, then one with Subscribe ticked
    alone = admin_client.post(reverse("admin:pgap_responsehook_add"), {"account": tenant.pk})
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:pgap_responsehook_add"), {"account": tenant.pk, "subscribe": "on"}
        )
    # then the URL shown and the one nps.today was given are both on PUBLIC_URL
    assert any("Give nps.today this URL now" in n and expected in n for n in notes(alone))
    targets = [row["targetUrl"] for row in fake_npstoday.subscriptions.values()]
    assert targets and all(target.startswith(expected) for target in targets)
