"""GDPR erasure: a person's data goes from events, rejected deliveries, surveys, tries and
answers, in the accounts asked for only; counts and scores stay; each run leaves a record
that names the person by a fingerprint only; a dry run changes nothing."""

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from integrations.dixa import samples
from integrations.erasure.models import Erasure
from integrations.erasure.services import ERASED, fingerprint, personal_data_erase, subject_for
from integrations.models import Account, InboundEvent, InboundEventBody, RejectedDelivery
from integrations.services.processing import inbound_events_process
from ivr.models import DeliveryAttempt, SurveyTrigger
from pgap.models import SurveyResponse
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, NpsTodayDeliveryFactory

pytestmark = pytest.mark.django_db
JANE = {
    "id": "c0ffee00-1111-4222-8333-444455556666",
    "name": "Jane Doe",
    "email": "Jane.Doe@Example.com",
    "phone": "+4520304050",
    "roles": [],
    "user_type": "Contact",
}


def close(client, key, csid, requester=JANE, queue_id="7a1c5e2a-0b7e-4a3c-9f55-2a4d1c2b3e4f"):
    """A ConversationClosed for `requester` through the relay endpoint, then processed."""
    document = samples.event(
        "ConversationClosed",
        rng=random.Random(csid),
        conversation_overrides={
            "csid": csid,
            "requester": requester,
            "queue": {"id": queue_id, "name": "Support"},
        },
    )
    answer = client.post(
        "/api/dixa/relay",
        data=samples.encode(document),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert answer.status_code == 202, answer.content
    inbound_events_process([answer.json()["id"]])
    return SurveyTrigger.objects.get(csid=csid, account__api_keys__prefix=key[:12])


@pytest.fixture
def tenant(client):
    from integrations.services.api_keys import api_key_create

    def make(name):
        account = AccountFactory(name=name, npstoday_api_key="nps-key")
        NpsTodayDeliveryFactory(account=account)
        IvrMappingFactory(account=account, queue_id="7a1c5e2a-0b7e-4a3c-9f55-2a4d1c2b3e4f")
        return account, api_key_create(account=account, name="dixa").plaintext

    return make


@pytest.fixture
def janes_history(client, tenant):
    """Jane and Bob in account A, Jane in account B too."""
    (a, key_a), (b, key_b) = tenant("A"), tenant("B")
    jane_a = close(client, key_a, 5001)
    bob = dict(JANE, id="b0b", name="Bob", email="bob@example.com", phone="+4511111111")
    bob_a = close(client, key_a, 5002, requester=bob)
    jane_b = close(client, key_b, 5001)
    for survey in (jane_a, bob_a, jane_b):
        DeliveryAttempt.objects.create(
            trigger=survey,
            number=1,
            request_url="https://api.nps.today/x",
            request_body=survey.payload,
            outcome=DeliveryAttempt.Outcome.SUCCESS,
            response_body=json.dumps({"emailAddress": survey.respondent_email}),
        )
        SurveyResponse.objects.create(
            account=survey.account,
            response_id=f"r{survey.csid}",
            rating=3,
            comment="I am Jane and the answer was slow",
            csid=survey.csid,
            respondent_email=survey.respondent_email,
            respondent_external_id="x",
            trigger=survey,
            payload={"respondent": {"email": survey.respondent_email}},
        )
    RejectedDelivery.objects.create(
        account=a,
        status_code=400,
        reason="not JSON",
        raw_body=b'{"email": "jane.doe@example.com", ',
        body_size=34,
    )
    return a, b, jane_a, bob_a, jane_b


def erase(kind, value, accounts, dry_run=False):
    return personal_data_erase(
        subject=subject_for(kind, value), accounts=accounts, actor="test", dry_run=dry_run
    )


def test_the_person_is_found_and_erased_everywhere_in_the_account(janes_history):
    a, b, jane_a, bob_a, jane_b = janes_history
    (record,) = erase("email", "JANE.DOE@example.com", Account.objects.filter(pk=a.pk))

    assert record.counts == {
        "inbound events": 1,
        "rejected deliveries": 1,
        "surveys": 1,
        "survey tries": 1,
        "survey responses": 1,
    }
    assert record.conversations == 1
    event = InboundEvent.objects.get(account=a, csid=5001)
    assert (event.requester_email, event.requester_phone) == ("", "")
    assert not InboundEventBody.objects.filter(event=event).exists()
    assert event.outcome and event.status == InboundEvent.Status.PROCESSED  # counts stay
    jane_a.refresh_from_db()
    assert jane_a.payload["respondent"] == {
        "firstName": ERASED,
        "phoneNumber": ERASED,
        "emailAddress": ERASED,
        "externalId": ERASED,
    }
    assert (jane_a.respondent_email, jane_a.respondent_phone) == ("", "")
    assert jane_a.payload["employee"]  # the agent's data is not the customer's
    attempt = DeliveryAttempt.objects.get(trigger=jane_a)
    assert attempt.request_body["respondent"]["emailAddress"] == ERASED
    assert attempt.response_body == ""
    answer = SurveyResponse.objects.get(trigger=jane_a)
    assert (answer.comment, answer.respondent_email, answer.rating) == ("", "", 3)
    assert bytes(RejectedDelivery.objects.get().raw_body) == ERASED.encode()


def test_other_people_and_other_accounts_are_untouched(janes_history):
    a, b, jane_a, bob_a, jane_b = janes_history
    erase("email", "jane.doe@example.com", Account.objects.filter(pk=a.pk))
    bob_a.refresh_from_db(), jane_b.refresh_from_db()
    assert bob_a.payload["respondent"]["emailAddress"] == "bob@example.com"
    assert jane_b.respondent_email == "jane.doe@example.com"
    assert InboundEventBody.objects.filter(event__account=b).count() == 1
    assert SurveyResponse.objects.get(trigger=jane_b).comment


def test_a_dry_run_counts_and_changes_nothing(janes_history):
    a, b, jane_a, *_ = janes_history
    records = erase("phone", "+4520304050", Account.objects.all(), dry_run=True)
    assert [r.counts["surveys"] for r in records] == [1, 1]
    assert all(r.dry_run for r in records)
    jane_a.refresh_from_db()
    assert jane_a.respondent_phone == "+4520304050"
    assert InboundEventBody.objects.count() == 3


def test_by_requester_id_and_by_csid(janes_history):
    a, b, jane_a, bob_a, jane_b = janes_history
    (by_id,) = erase("requester", JANE["id"], Account.objects.filter(pk=b.pk))
    assert by_id.counts["surveys"] == 1 and by_id.counts["inbound events"] == 1
    (by_csid,) = erase("csid", "5002", Account.objects.filter(pk=a.pk))
    assert by_csid.counts["surveys"] == 1
    bob_a.refresh_from_db(), jane_a.refresh_from_db()
    assert bob_a.respondent_email == "" and jane_a.respondent_email == "jane.doe@example.com"


def test_the_record_keeps_a_fingerprint_not_the_value(janes_history):
    a, *_ = janes_history
    (record,) = erase("email", "jane.doe@example.com", Account.objects.filter(pk=a.pk))
    stored = " ".join(str(v) for v in Erasure.objects.filter(pk=record.pk).values().get().values())
    assert "jane" not in stored.lower()
    assert record.fingerprint == fingerprint(subject_for("email", "Jane.Doe@example.com"))


@pytest.mark.parametrize(
    "kind, value", [("email", "not-an-email"), ("csid", "12x"), ("email", " ")]
)
def test_values_that_cannot_name_anyone_are_refused(kind, value):
    with pytest.raises(ValidationError):
        subject_for(kind, value)


def test_command_dry_run_then_erase(janes_history):
    a = janes_history[0]
    out = io.StringIO()
    call_command(
        "erase_personal_data",
        "--email",
        "jane.doe@example.com",
        "--account",
        a.slug,
        "--dry-run",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert f"{a.slug}: 1 conversation(s); would change 1 inbound events" in out.getvalue()
    assert "Dry run: nothing was changed." in out.getvalue()
    out = io.StringIO()
    call_command(
        "erase_personal_data", "--email", "jane.doe@example.com", stdout=out, stderr=io.StringIO()
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all("changed" in line for line in lines)  # both accounts
    assert Erasure.objects.filter(dry_run=False).count() == 2


def test_command_says_when_nothing_matched_and_refuses_bad_input(janes_history):
    out = io.StringIO()
    call_command(
        "erase_personal_data", "--email", "nobody@example.com", stdout=out, stderr=io.StringIO()
    )
    assert out.getvalue().strip() == "No data of this email was found; nothing changed."
    with pytest.raises(CommandError, match="Enter a valid email"):
        call_command("erase_personal_data", "--email", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no account ghost"):
        call_command(
            "erase_personal_data", "--csid", "1", "--account", "ghost", stdout=io.StringIO()
        )


# --- the admin page ----------------------------------------------------------------------


ERASE_URL = "/admin/integrations/erasure/erase/"


@pytest.fixture
def eraser(staff_user_factory, janes_history):
    a = janes_history[0]
    return staff_user_factory("dpo", a, perms=("add_erasure", "view_erasure"))


def test_admin_dry_run_shows_counts_then_erase_changes(client, eraser, janes_history):
    a, b, jane_a, *_ = janes_history
    client.force_login(eraser)
    form = {"kind": "email", "value": "jane.doe@example.com", "accounts": [a.pk]}
    preview = client.post(ERASE_URL, {**form, "preview": "1"})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Dry run: what would change" in page and "1 surveys" in page
    jane_a.refresh_from_db()
    assert jane_a.respondent_email  # nothing changed yet

    token = preview.context["preview_token"]
    assert f'name="preview_token" value="{token}"' in page
    done = client.post(ERASE_URL, {**form, "erase": "1", "preview_token": token}, follow=True)
    assert "Erased: 5 row(s) changed in 1 account(s)." in done.content.decode()
    jane_a.refresh_from_db()
    assert jane_a.respondent_email == ""
    assert Erasure.objects.filter(actor=eraser, dry_run=False).count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"value": "jane.doe@example.com"},
        {"kind": "phone", "value": "+4520304050"},
        {"accounts": []},  # filled in below: both of the user's accounts
    ],
    ids=["value", "kind", "accounts"],
)
def test_admin_erases_only_what_the_dry_run_showed(client, eraser, janes_history, changed):
    # given a dry run of Bob, whose erase button the page offers
    a, b, jane_a, bob_a, jane_b = janes_history
    a2 = AccountFactory(name="A2")
    a2.members.add(eraser)
    client.force_login(eraser)
    form = {"kind": "email", "value": "bob@example.com", "accounts": [a.pk]}
    preview = client.post(ERASE_URL, {**form, "preview": "1"})
    token = preview.context["preview_token"]
    assert "Erase 4 row(s) now" in preview.content.decode()
    # when the form is edited before the erase button is clicked
    edited = {**form, **changed, "erase": "1", "preview_token": token}
    if "accounts" in changed:
        edited["accounts"] = [a.pk, a2.pk]
    answer = client.post(ERASE_URL, edited)
    # then nothing is erased, and the page shows a dry run of the new values, saying why
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "Nothing was erased: the person or the accounts changed since the dry run" in page
    assert "Dry run: what would change" in page
    assert not Erasure.objects.filter(dry_run=False).exists()
    jane_a.refresh_from_db(), bob_a.refresh_from_db()
    assert jane_a.respondent_email and bob_a.respondent_email
    # and its button erases the new values, now previewed
    done = client.post(ERASE_URL, {**edited, "preview_token": answer.context["preview_token"]})
    assert done.status_code == 302
    assert Erasure.objects.filter(dry_run=False).count() == len(edited["accounts"])


def test_admin_erase_without_a_valid_dry_run_is_a_dry_run(client, eraser, janes_history):
    a, b, jane_a, *_ = janes_history
    client.force_login(eraser)
    form = {"kind": "email", "value": "Jane.Doe@Example.com", "accounts": [a.pk]}
    # when the erase is posted without a dry run's token, or with a forged one
    for token in ({}, {"preview_token": ""}, {"preview_token": "forged"}):
        answer = client.post(ERASE_URL, {**form, **token, "erase": "1"})
        # then it is a dry run, saying so
        assert "Nothing was erased: the person or the accounts changed" in answer.content.decode()
    assert not Erasure.objects.filter(dry_run=False).exists()


def test_admin_erase_after_the_dry_run_expired_is_a_fresh_dry_run(client, eraser, janes_history):
    # given a dry run of Jane
    a, b, jane_a, *_ = janes_history
    client.force_login(eraser)
    form = {"kind": "email", "value": "Jane.Doe@Example.com", "accounts": [a.pk]}
    token = client.post(ERASE_URL, {**form, "preview": "1"}).context["preview_token"]
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        # when its erase button is clicked 16 minutes later
        late = client.post(ERASE_URL, {**form, "erase": "1", "preview_token": token})
        # then nothing is erased, and a fresh dry run says why
        assert "Nothing was erased: the dry run is more than 15 minutes old" in (
            late.content.decode()
        )
        jane_a.refresh_from_db()
        assert jane_a.respondent_email
        # and the fresh one's button erases (the value compared as the service normalises it)
        fresh = {**form, "value": " jane.doe@example.COM", "erase": "1"}
        done = client.post(ERASE_URL, {**fresh, "preview_token": late.context["preview_token"]})
        assert done.status_code == 302
    jane_a.refresh_from_db()
    assert jane_a.respondent_email == ""


def test_admin_erases_only_in_the_staff_users_accounts(client, eraser, janes_history):
    a, b, *_ = janes_history
    client.force_login(eraser)
    answer = client.post(
        ERASE_URL,
        {"kind": "email", "value": "jane.doe@example.com", "accounts": [b.pk], "erase": "1"},
    )
    assert answer.status_code == 200
    assert "Select a valid choice" in answer.content.decode()
    assert SurveyTrigger.objects.get(account=b).respondent_email == "jane.doe@example.com"
    assert f" {a.name}</label>" in answer.content.decode()
    assert f" {b.name}</label>" not in answer.content.decode()  # not even offered


def test_admin_erase_needs_the_permission(client, staff_user_factory, janes_history):
    a = janes_history[0]
    client.force_login(staff_user_factory("viewer", a, perms=("view_erasure",)))
    assert client.get(ERASE_URL).status_code == 403
    listing = client.get("/admin/integrations/erasure/").content.decode()
    assert "Erase a person" not in listing


# --- the management API ------------------------------------------------------------------


@pytest.fixture
def api_for(django_user_model):
    from tests.integrations.api import make_staff, token_client

    def make(username, *accounts, perms=("add_erasure", "view_erasure")):
        return token_client(make_staff(django_user_model, username, *accounts, perms=perms))

    return make


def test_api_dry_run_then_erase_in_the_users_accounts(api_for, janes_history):
    a, b, jane_a, bob_a, jane_b = janes_history
    api = api_for("dpo", a)
    body = {"kind": "email", "value": "jane.doe@example.com"}
    dry = api.post("/api/v1/erasures", {**body, "dry_run": True}, format="json")
    assert dry.status_code == 200
    [record] = dry.json()
    assert (record["account"], record["dry_run"], record["counts"]["surveys"]) == (a.slug, True, 1)

    done = api.post("/api/v1/erasures", body, format="json")  # every account of the user's
    assert done.status_code == 201
    assert [r["account"] for r in done.json()] == [a.slug]
    jane_a.refresh_from_db(), jane_b.refresh_from_db()
    assert jane_a.respondent_email == "" and jane_b.respondent_email == "jane.doe@example.com"
    listed = api.get("/api/v1/erasures").json()["results"]
    assert [r["dry_run"] for r in listed] == [False, True]


def test_api_refuses_another_accounts_slug_bad_values_and_missing_permission(
    api_for, janes_history
):
    a, b, *_ = janes_history
    api = api_for("dpo", a)
    other = api.post(
        "/api/v1/erasures",
        {"kind": "email", "value": "jane.doe@example.com", "accounts": [b.slug]},
        format="json",
    )
    assert other.status_code == 400 and "accounts" in other.json()["detail"]
    bad = api.post("/api/v1/erasures", {"kind": "csid", "value": "abc"}, format="json")
    assert bad.status_code == 400 and "value" in bad.json()["detail"]
    assert Erasure.objects.count() == 0
    viewer = api_for("viewer", a, perms=("view_erasure",))
    assert (
        viewer.post("/api/v1/erasures", {"kind": "csid", "value": "1"}, format="json").status_code
        == 403
    )


def test_api_says_when_nothing_matched(api_for, janes_history):
    a = janes_history[0]
    answer = api_for("dpo", a).post(
        "/api/v1/erasures", {"kind": "email", "value": "nobody@example.com"}, format="json"
    )
    assert answer.status_code == 200
    assert [sum(r["counts"].values()) for r in answer.json()] == [0]


def test_the_erase_page_leads_back_through_the_app_and_the_list(client, eraser):
    client.force_login(eraser)
    page = client.get(ERASE_URL).content.decode()
    crumbs = page.split('class="breadcrumbs"', 1)[1].split("</div>", 1)[0]
    assert 'href="/admin/integrations/"' in crumbs
    assert 'href="/admin/integrations/erasure/"' in crumbs


def test_admin_erase_with_another_users_dry_run_is_a_dry_run(
    client, eraser, staff_user_factory, janes_history
):
    # given a colleague on the same account who ran the dry run
    a, b, jane_a, *_ = janes_history
    colleague = staff_user_factory("dpo2", a, perms=("add_erasure", "view_erasure"))
    form = {"kind": "email", "value": "jane.doe@example.com", "accounts": [a.pk]}
    client.force_login(colleague)
    token = client.post(ERASE_URL, {**form, "preview": "1"}).context["preview_token"]
    # when another user posts the erase with that dry run's token
    client.force_login(eraser)
    answer = client.post(ERASE_URL, {**form, "erase": "1", "preview_token": token})
    # then nothing is erased, and their own dry run says why
    assert "Nothing was erased: the dry run was another user&#x27;s" in answer.content.decode()
    jane_a.refresh_from_db()
    assert jane_a.respondent_email
    assert not Erasure.objects.filter(dry_run=False).exists()
