import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from integrations.audit.models import AuditEntry
from integrations.models import Account, ApiKey, InboundEvent, RejectedDelivery, SigningSecret
from integrations.services.api_keys import api_key_create
from ivr.models import NpsTodayDelivery
from pgap.services.hooks import response_hook_create
from tests.integrations.factories import AccountFactory, InboundEventFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants(staff_user_factory):
    mine, theirs = AccountFactory(name="Mine"), AccountFactory(name="Theirs")
    user = staff_user_factory("staff", mine)
    return user, mine, theirs


def test_staff_user_sees_only_their_accounts_api_keys(client, two_tenants):
    # given
    user, mine, theirs = two_tenants
    api_key_create(account=mine, name="mine-key")
    api_key_create(account=theirs, name="their-key")
    client.force_login(user)
    # when
    page = client.get(reverse("admin:integrations_apikey_changelist")).content.decode()
    # then
    assert "mine-key" in page
    assert "their-key" not in page
    assert "Theirs" not in page  # not even in the account filter


def test_staff_user_cannot_open_another_accounts_objects(client, two_tenants):
    user, mine, theirs = two_tenants
    their_key = api_key_create(account=theirs, name="their-key").api_key
    their_event = InboundEventFactory(account=theirs)
    client.force_login(user)
    for url in (
        reverse("admin:integrations_apikey_change", args=[their_key.pk]),
        reverse("admin:integrations_inboundevent_change", args=[their_event.pk]),
        reverse("admin:integrations_account_change", args=[theirs.pk]),
    ):
        response = client.get(url)
        # the admin redirects to its index ("doesn't exist") for objects outside the queryset
        assert response.status_code == 302, url
        assert response.url == reverse("admin:index")


def test_staff_user_can_only_pick_their_accounts_when_creating_a_key(client, two_tenants):
    user, mine, theirs = two_tenants
    client.force_login(user)
    response = client.post(
        reverse("admin:integrations_apikey_add"), {"account": theirs.pk, "name": "sneaky"}
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.filter(account=theirs).exists()


def test_superuser_sees_every_account(admin_client, two_tenants):
    _, mine, theirs = two_tenants
    InboundEventFactory(account=mine, event_id="evt-mine")
    InboundEventFactory(account=theirs, event_id="evt-theirs")
    page = admin_client.get(reverse("admin:integrations_inboundevent_changelist")).content.decode()
    assert "Mine" in page and "Theirs" in page


def test_new_key_is_shown_once_in_the_admin_and_stored_hashed(admin_client, account):
    response = admin_client.post(
        reverse("admin:integrations_apikey_add"),
        {"account": account.pk, "name": "from-admin"},
        follow=True,
    )
    message = next(str(m) for m in response.context["messages"])
    plaintext = message.split("will not be shown again: ", 1)[1].split(" ", 1)[0]
    key = ApiKey.objects.get(name="from-admin")
    assert plaintext.startswith(key.prefix)
    # with where it goes in Dixa's webhook form
    assert "URL http://testserver/api/dixa/relay , authentication Token" in message
    detail = admin_client.get(reverse("admin:integrations_apikey_change", args=[key.pk]))
    assert plaintext not in detail.content.decode()


@pytest.mark.parametrize(
    "public_url, url, warned",
    [
        ("", "http://testserver/api/dixa/relay", True),
        ("https://relay.example.com", "https://relay.example.com/api/dixa/relay", False),
    ],
)
def test_the_new_keys_url_warns_when_dixa_may_not_reach_it(
    admin_client, account, settings, public_url, url, warned
):
    settings.PUBLIC_URL = public_url
    response = admin_client.post(
        reverse("admin:integrations_apikey_add"), {"account": account.pk, "name": "k"}, follow=True
    )
    message = next(str(m) for m in response.context["messages"])
    assert f"URL {url} ," in message
    assert ("set PUBLIC_URL to the platform's public https address" in message) is warned


def test_revoke_action(admin_client, account):
    key = api_key_create(account=account, name="old").api_key
    admin_client.post(
        reverse("admin:integrations_apikey_changelist"),
        {"action": "revoke", "confirmed": "yes", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_account_page_shows_only_the_last_four_of_secrets(admin_client):
    account = AccountFactory(npstoday_api_key="nps-very-secret-7f3c")
    SigningSecretFactory(account=account, secret="aa" * 16 + "beef")
    page = admin_client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    html = page.content.decode()
    assert "••••7f3c" in html and "nps-very-secret" not in html
    assert "••••beef" in html and "aa" * 16 not in html


def test_blank_secret_in_the_form_keeps_the_stored_value(admin_client):
    account = AccountFactory(npstoday_api_key="nps-keep-me-0001")
    admin_client.post(
        reverse("admin:integrations_account_change", args=[account.pk]),
        {
            "name": account.name,
            "npstoday_api_key": "",
            "signature_tolerance_seconds": 300,
            "signing_secrets-TOTAL_FORMS": 0,
            "signing_secrets-INITIAL_FORMS": 0,
        },
    )
    account.refresh_from_db()
    assert account.npstoday_api_key == "nps-keep-me-0001"


def test_account_without_signing_secret_is_flagged_as_unverified(admin_client, account):
    page = admin_client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    assert "accepted on the API key alone, unverified" in page.content.decode()
    listing = admin_client.get(reverse("admin:integrations_account_changelist"))
    assert "unverified" in listing.content.decode()


def test_reprocess_action_requeues_events(admin_client, account):
    event = InboundEventFactory(
        account=account,
        status=InboundEvent.Status.PROCESSED,
        outcome="no_handler",
        queued_at=timezone.now(),
    )
    admin_client.post(
        reverse("admin:integrations_inboundevent_changelist"),
        {"action": "reprocess", "confirmed": "yes", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    # back in the outbox, handed to a worker once the action commits
    assert (event.status, event.outcome) == (InboundEvent.Status.RECEIVED, "")


def test_reprocessing_through_one_handler_says_so_before_it_runs(admin_client, account):
    event = InboundEventFactory(account=account, status=InboundEvent.Status.PROCESSED)
    page = admin_client.post(
        reverse("admin:integrations_inboundevent_changelist"),
        {"action": "reprocess_survey", "_selected_action": [event.pk]},
    )
    text = page.content.decode()
    assert "<title>Reprocess 1 of 1 selected through the survey handler only?" in text
    assert 'value="Reprocess 1 through the survey handler only"' in text
    # and it names the events it will change, each a link to its page
    event_page = reverse("admin:integrations_inboundevent_change", args=[event.pk])
    assert f'<li><a href="{event_page}">{event}</a></li>' in text


def test_event_and_rejection_pages_render_the_raw_body(admin_client, account):
    event = InboundEventFactory(account=account, body__raw_body=b'{"event_id":"x-1"}')
    page = admin_client.get(reverse("admin:integrations_inboundevent_change", args=[event.pk]))
    assert "x-1" in page.content.decode()
    assert (
        admin_client.get(reverse("admin:integrations_rejecteddelivery_changelist")).status_code
        == 200
    )


def account_form(account, **changes) -> dict:
    return {
        "name": account.name,
        "npstoday_api_key": "",
        "signature_tolerance_seconds": 300,
        "signing_secrets-TOTAL_FORMS": 0,
        "signing_secrets-INITIAL_FORMS": 0,
        **changes,
    }


def test_staff_cannot_rename_their_account(client, two_tenants):
    # given a staff member of "Mine"
    user, mine, _ = two_tenants
    client.force_login(user)
    url = reverse("admin:integrations_account_change", args=[mine.pk])
    assert 'name="name"' not in client.get(url).content.decode()  # shown read-only
    # when they post a new name (e.g. a tenant's that apply_config will create later)
    before = Account.objects.values().get(pk=mine.pk)
    client.post(url, account_form(mine, name="Newco", slug="newco"))
    # then the account keeps its name (and its slug)
    mine.refresh_from_db()
    assert mine.name == "Mine"
    assert Account.objects.values().get(pk=mine.pk) == before


def test_superusers_rename_accounts_but_never_change_their_slug(admin_client, two_tenants):
    _, mine, _ = two_tenants
    url = reverse("admin:integrations_account_change", args=[mine.pk])
    admin_client.post(url, account_form(mine, name="Mine Renamed", slug="other"))
    renamed = Account.objects.get(pk=mine.pk)
    assert (renamed.name, renamed.slug) == ("Mine Renamed", mine.slug)


def test_a_new_account_gets_the_slug_given_when_it_is_created(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_account_add"),
        account_form(AccountFactory.build(name="Gamma"), slug="gamma-dk"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Account.objects.get(name="Gamma").slug == "gamma-dk"


@pytest.mark.parametrize("key", ["nps-key\nX-Injected: 1", "nps\x7fkey", "nøgle", "nps key"])
def test_the_account_form_refuses_an_npstoday_key_headers_cannot_carry(admin_client, key):
    account = AccountFactory(npstoday_api_key="nps-old-0001")
    response = admin_client.post(
        reverse("admin:integrations_account_change", args=[account.pk]),
        account_form(account, npstoday_api_key=key),
    )
    assert response.status_code == 200
    assert "HTTP headers cannot carry" in response.content.decode()
    account.refresh_from_db()
    assert account.npstoday_api_key == "nps-old-0001"


def test_the_account_form_strips_whitespace_around_a_pasted_key(admin_client):
    account = AccountFactory()
    admin_client.post(
        reverse("admin:integrations_account_change", args=[account.pk]),
        account_form(account, npstoday_api_key="  nps-pasted-0002\r\n"),
    )
    account.refresh_from_db()
    assert account.npstoday_api_key == "nps-pasted-0002"


def test_no_admin_page_capitalises_nps_today(admin_client):
    # given an account with an IVR mapping, its delivery policy and a response hook
    mapping = IvrMappingFactory()
    account = mapping.account
    delivery, _ = NpsTodayDelivery.objects.get_or_create(account=account)
    hook = response_hook_create(account=account).hook
    pages = [
        reverse("admin:index"),
        *(reverse("admin:app_list", args=[app]) for app in ("integrations", "ivr", "pgap")),
        reverse("admin:integrations_account_changelist"),
        reverse("admin:integrations_account_change", args=[account.pk]),
        reverse("admin:ivr_ivrmapping_changelist"),
        reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]),
        reverse("admin:pgap_responsehook_changelist"),
        reverse("admin:pgap_responsehook_add"),
        reverse("admin:pgap_responsehook_change", args=[hook.pk]),
        reverse("admin:ivr_npstodaydelivery_changelist"),
        reverse("admin:ivr_npstodaydelivery_change", args=[delivery.pk]),
    ]
    # when each is opened, then nps.today keeps its lower-case n (Django capitalises a
    # verbose name's first letter in labels, column headers and the app index)
    for url in pages:
        page = admin_client.get(url).content.decode()
        assert "Nps.today" not in page, url
    labels = admin_client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    assert "API key for nps.today" in labels.content.decode()
    mapping_page = admin_client.get(reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]))
    assert "Campaign in nps.today" in mapping_page.content.decode()
    assert (
        "Response hooks for nps.today" in admin_client.get(reverse("admin:index")).content.decode()
    )
    # and a change of the delivery policy is logged as "Changed Tries per survey."
    url = reverse("admin:ivr_npstodaydelivery_change", args=[delivery.pk])
    assert "Tries per survey" in admin_client.get(url).content.decode()
    saved = admin_client.post(url, {"max_attempts": 3, "retry_seconds": 60})
    assert saved.status_code == 302
    assert LogEntry.objects.get().get_change_message() == "Changed Tries per survey."


@pytest.mark.parametrize(
    ("page", "own_help"),
    [
        ("/admin/integrations/account/add/", "Staff users who may see and edit this account"),
        ("/admin/pgap/pgapsetup/add/", "The IVR mappings whose surveys carry the agent"),
    ],
)
def test_two_box_pickers_keep_their_help_without_the_hold_down_control_hint(
    admin_client, page, own_help
):
    text = admin_client.get(page).content.decode()
    assert own_help in text
    assert "Hold down" not in text  # the hint of a plain multiple select, not of two boxes


def test_saving_an_account_unchanged_records_no_secret_as_changed(admin_client):
    # given an account with its nps.today key and a signing secret
    account = AccountFactory(npstoday_api_key="nps-keep-me-0002")
    secret = SigningSecretFactory(account=account)
    stored_secret = secret.secret
    # when an admin saves its page without typing anything (secrets are shown blank)
    admin_client.post(
        reverse("admin:integrations_account_change", args=[account.pk]),
        account_form(
            account,
            **{
                "signing_secrets-TOTAL_FORMS": 1,
                "signing_secrets-INITIAL_FORMS": 1,
                "signing_secrets-0-id": secret.pk,
                "signing_secrets-0-account": account.pk,
                "signing_secrets-0-label": secret.label,
                "signing_secrets-0-secret": "",
                "signing_secrets-0-is_active": "on",
            },
        ),
    )
    # then the history and the audit trail say nothing changed, and nothing did
    entry = LogEntry.objects.get(object_id=str(account.pk))
    assert entry.get_change_message() == "No fields changed."
    audit = AuditEntry.objects.get(action="account change")
    assert "API key" not in audit.summary and "Secret" not in audit.summary
    account.refresh_from_db()
    assert account.npstoday_api_key == "nps-keep-me-0002"
    assert SigningSecret.objects.get(pk=secret.pk).secret == stored_secret


def test_a_refused_account_save_shows_the_typed_key_again_never_the_stored_one(admin_client):
    account = AccountFactory(npstoday_api_key="nps-stored-0003")
    page = admin_client.post(
        reverse("admin:integrations_account_change", args=[account.pk]),
        account_form(account, name="", npstoday_api_key="nps-typed-0004"),
    )
    assert page.status_code == 200  # refused: a name is required
    text = page.content.decode()
    assert 'value="nps-typed-0004"' in text
    assert "nps-stored-0003" not in text


def test_signing_secrets_are_deactivated_on_the_account_page_never_deleted(admin_client):
    account = AccountFactory()
    SigningSecretFactory(account=account)
    page = admin_client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    text = page.content.decode()
    assert 'name="signing_secrets-0-is_active"' in text
    assert 'name="signing_secrets-0-DELETE"' not in text


def test_a_rejected_delivery_names_the_api_key_that_sent_it(admin_client, account):
    key = api_key_create(account=account, name="dixa-webhook").api_key
    rejected = RejectedDelivery.objects.create(
        account=account,
        api_key=key,
        status_code=401,
        reason="bad signature",
        raw_body=b"{}",
        body_size=2,
    )
    listing = admin_client.get(reverse("admin:integrations_rejecteddelivery_changelist"))
    assert f"dixa-webhook ({key.prefix}…)" in listing.content.decode()
    page = admin_client.get(
        reverse("admin:integrations_rejecteddelivery_change", args=[rejected.pk])
    )
    assert f"dixa-webhook ({key.prefix}…)" in page.content.decode()
