"""The IVR mapping form without copy-paste: queues and campaigns are loaded on request through
the server (cached), the save checks them against Dixa and nps.today, an API that does not
answer needs an explicit "Save anyway", nothing typed is lost, and "Test connection" answers
in sentences. The form itself never calls an outside API."""

import hypothesis
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from hypothesis import strategies as st

from integrations.clients.http import ApiUnavailable
from ivr import selectors
from ivr.models import IvrMapping
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory

pytestmark = pytest.mark.django_db
ADD = reverse("admin:ivr_ivrmapping_add")
QUEUES = reverse("admin:ivr_ivrmapping_options", args=["queues"])
CAMPAIGNS = reverse("admin:ivr_ivrmapping_options", args=["campaigns"])
DOWN = "http://127.0.0.1:1"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def form(account, **changes) -> dict:
    return {
        "account": account.pk,
        "name": "Support DK",
        "enabled": "on",
        "dixa_api_token": "dixa-test-token",
        "queue_id": QUEUE_ID,
        "campaign_id": 7232,
        "delay_minutes": 0,
        "quarantine_days": 0,
        "sample_percent": 100,
        **changes,
    }


def errors(response) -> str:
    return " ".join(str(e) for e in response.context["adminform"].form.errors.values())


def test_the_form_pages_call_no_outside_api(admin_client, fake_npstoday, fake_dixa):
    # given an account with an nps.today key and a mapping with a Dixa token
    mapping = IvrMappingFactory()
    # when the add and change pages are shown
    assert admin_client.get(ADD).status_code == 200
    change = reverse("admin:ivr_ivrmapping_change", args=[mapping.pk])
    page = admin_client.get(change).content.decode()
    # then neither API was asked, and the pickers are offered
    assert fake_dixa.recorded("/v1/queues") == []
    assert fake_npstoday.recorded("/campaigns/") == []
    assert "Load queues" in page and "Load campaigns" in page


def test_load_queues_asks_dixa_with_the_typed_token(admin_client, fake_dixa):
    answer = admin_client.post(QUEUES, {"token": "dixa-test-token"})
    assert answer.status_code == 200
    assert {"id": QUEUE_ID, "label": f"Mail - General · {QUEUE_ID}"} in answer.json()["options"]
    assert fake_dixa.recorded("/v1/queues")[0].headers["authorization"] == "dixa-test-token"


def test_load_queues_uses_the_stored_token_when_none_is_typed(admin_client, fake_dixa):
    mapping = IvrMappingFactory()
    answer = admin_client.post(QUEUES, {"token": "", "mapping": mapping.pk})
    assert answer.status_code == 200
    assert fake_dixa.recorded("/v1/queues")[0].headers["authorization"] == "dixa-test-token"


def test_queues_are_cached_between_loads(admin_client, fake_dixa):
    for _ in range(3):
        assert admin_client.post(QUEUES, {"token": "dixa-test-token"}).status_code == 200
    assert len(fake_dixa.recorded("/v1/queues")) == 1


@pytest.mark.parametrize(
    ("token", "url", "status", "sentence"),
    [
        ("wrong", None, 400, "Dixa refused the token (401)."),  # the admin's input
        (
            "dixa-test-token",
            DOWN,
            502,
            "Dixa (http://127.0.0.1:1) did not answer: the connection was refused. Type the "
            "queue id yourself, or try again.",
        ),
        ("", None, 400, "Type the mapping's Dixa API token first."),
    ],
)
def test_load_queues_explains_a_failure(
    admin_client, fake_dixa, settings, token, url, status, sentence
):
    if url:
        settings.DIXA_API_URL = url
    answer = admin_client.post(QUEUES, {"token": token})
    assert (answer.status_code, answer.json()) == (status, {"error": sentence})


def unavailable(status: int):
    def load(_credential):
        error = ApiUnavailable(f"answered {status}")
        error.status = status
        raise error

    return load


@pytest.mark.parametrize(
    ("answer_status", "sentence"),
    [
        (
            503,
            "{service} answered 503 (it may be down). Type the {what} id yourself, or try again.",
        ),
        (
            429,
            "{service} is limiting our requests (429). Type the {what} id yourself, or try "
            "again in a minute.",
        ),
    ],
)
@pytest.mark.parametrize(
    ("kind", "selector", "service", "what"),
    [
        ("queues", "dixa_queues", "Dixa", "queue"),
        ("campaigns", "npstoday_campaigns", "nps.today", "campaign"),
    ],
)
def test_a_load_the_api_does_not_answer_says_the_id_may_be_typed(
    admin_client, monkeypatch, kind, selector, service, what, answer_status, sentence
):
    # given Dixa or nps.today answering with an error that is not a refusal
    monkeypatch.setattr(selectors, selector, unavailable(answer_status))
    account = AccountFactory(npstoday_api_key="nps-test-key")
    # when the list is loaded
    url = reverse("admin:ivr_ivrmapping_options", args=[kind])
    answer = admin_client.post(url, {"token": "dixa-test-token", "account": account.pk})
    # then the sentence says the id may be typed by hand
    expected = sentence.format(service=service, what=what)
    assert (answer.status_code, answer.json()) == (502, {"error": expected})


def test_the_help_says_the_ids_may_be_typed(admin_client):
    page = admin_client.get(ADD).content.decode()
    assert "“Load queues” to choose from Dixa's queues (or type the queue's id)." in page
    assert "can see (or type the campaign's id)." in page


def test_load_campaigns_lists_the_accounts_campaigns(admin_client, fake_npstoday):
    account = AccountFactory(npstoday_api_key="nps-test-key")
    answer = admin_client.post(CAMPAIGNS, {"account": account.pk})
    assert {"id": "7232", "label": "7232 · Relationsmåling Q1"} in answer.json()["options"]


def test_load_campaigns_names_the_address_that_did_not_answer(admin_client, settings):
    # given nps.today's address on a port nobody listens on, a secret in its path
    settings.NPSTODAY_API_URL = f"{DOWN}/tenant/s3cret"
    account = AccountFactory(npstoday_api_key="nps-test-key")
    # when the campaigns are loaded
    answer = admin_client.post(CAMPAIGNS, {"account": account.pk})
    # then the picker says which address refused, and nothing of its path or the key
    sentence = (
        "nps.today (http://127.0.0.1:1) did not answer: the connection was refused. Type the "
        "campaign id yourself, or try again."
    )
    assert (answer.status_code, answer.json()) == (502, {"error": sentence})


def test_load_campaigns_says_when_the_account_has_no_key(admin_client, fake_npstoday):
    account = AccountFactory(name="Acme", npstoday_api_key="")
    answer = admin_client.post(CAMPAIGNS, {"account": account.pk})
    assert answer.json() == {"error": "Acme has no nps.today API key: set it on the account first."}


def test_a_staff_user_cannot_load_another_accounts_campaigns(
    client, staff_user_factory, fake_npstoday
):
    mine, theirs = AccountFactory(), AccountFactory(npstoday_api_key="nps-test-key")
    client.force_login(staff_user_factory("ops", mine, perms=["add_ivrmapping"]))
    answer = client.post(CAMPAIGNS, {"account": theirs.pk})
    assert answer.json() == {"error": "Choose the account first."}
    assert fake_npstoday.recorded("/campaigns/") == []


def test_loading_needs_a_post_and_the_permission(client, staff_user_factory, account):
    client.force_login(staff_user_factory("viewer", account, perms=["view_ivrmapping"]))
    assert client.post(QUEUES, {"token": "t"}).status_code == 403
    client.force_login(staff_user_factory("editor", account, perms=["add_ivrmapping"]))
    assert client.get(QUEUES).status_code == 405


def test_a_checked_mapping_is_saved_with_the_queue_and_campaign_names(
    admin_client, fake_npstoday, fake_dixa
):
    account = AccountFactory(npstoday_api_key="nps-test-key")
    response = admin_client.post(ADD, form(account))
    assert response.status_code == 302
    mapping = IvrMapping.objects.get()
    assert (mapping.queue_name, mapping.campaign_name) == ("Mail - General", "Relationsmåling Q1")


@pytest.mark.parametrize(
    ("changes", "field", "sentence"),
    [
        ({"queue_id": "tbd"}, "queue_id", "Dixa has no queue 'tbd' for this token"),
        ({"dixa_api_token": "wrong"}, "dixa_api_token", "Dixa refused the token (401)."),
        ({"campaign_id": 8000}, "campaign_id", "nps.today has no campaign 8000"),
    ],
)
def test_an_unknown_queue_a_refused_token_or_an_unseen_campaign_stop_the_save(
    admin_client, fake_npstoday, fake_dixa, changes, field, sentence
):
    # given a campaign that only another account's key can see
    fake_npstoday.api_keys.add("nps-beta-key")
    fake_npstoday.campaigns_by_key["nps-beta-key"] = {8000: "Beta NPS"}
    account = AccountFactory(npstoday_api_key="nps-test-key")
    # when the mapping is saved with the bad value (even with "Save anyway" ticked)
    response = admin_client.post(ADD, form(account, save_anyway="on", **changes))
    # then it is not saved, and the field says why
    assert response.status_code == 200
    assert sentence in " ".join(response.context["adminform"].form.errors[field])
    assert not IvrMapping.objects.exists()


def test_apis_that_do_not_answer_need_save_anyway(admin_client, settings):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = DOWN
    account = AccountFactory(npstoday_api_key="nps-test-key")
    # when the mapping is saved while neither API answers
    refused = admin_client.post(ADD, form(account))
    # then the page explains, and offers the box
    assert refused.status_code == 200
    text = errors(refused)
    assert "Dixa (http://127.0.0.1:1) did not answer: the connection was refused." in text
    assert "nps.today (http://127.0.0.1:1) did not answer: the connection was refused." in text
    assert 'type="checkbox" name="save_anyway"' in refused.content.decode()
    # and with the box ticked it is saved, without names
    assert admin_client.post(ADD, form(account, save_anyway="on")).status_code == 302
    assert IvrMapping.objects.get().queue_name == ""


def test_a_failed_save_keeps_everything_typed_including_the_token(
    admin_client, fake_npstoday, fake_dixa
):
    account = AccountFactory(npstoday_api_key="nps-test-key")
    typed = form(account, dixa_api_token="typed-secret-token", queue_id="tbd", campaign_id=7300)
    page = admin_client.post(ADD, typed).content.decode()
    assert 'value="typed-secret-token"' in page
    assert 'value="tbd"' in page and 'value="7300"' in page


def test_the_stored_token_is_never_shown(admin_client):
    mapping = IvrMappingFactory(dixa_api_token="stored-secret-token")
    page = admin_client.get(reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]))
    assert "stored-secret-token" not in page.content.decode()


def test_saving_rules_alone_asks_no_api(admin_client, settings):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = DOWN
    mapping = IvrMappingFactory(queue_name="Mail - General")
    changed = form(mapping.account, name=mapping.name, dixa_api_token="", sample_percent=50)
    url = reverse("admin:ivr_ivrmapping_change", args=[mapping.pk])
    assert admin_client.post(url, changed).status_code == 302
    mapping.refresh_from_db()
    assert (mapping.sample_percent, mapping.queue_name) == (50, "Mail - General")


def test_test_connection_on_a_mapping_answers_in_sentences(admin_client, fake_npstoday, fake_dixa):
    good = IvrMappingFactory(name="Good")
    bad = IvrMappingFactory(name="Bad", dixa_api_token="wrong", campaign_id=1)
    for mapping, expected in (
        (good, ["Dixa accepted the token; queue “Mail - General”", "campaign 7232"]),
        (bad, ["Bad: Dixa refused the token (401).", "nps.today has no campaign 1"]),
    ):
        url = reverse("admin:ivr_ivrmapping_test_connection", args=[mapping.pk])
        response = admin_client.post(url, follow=True)
        text = " | ".join(str(m) for m in response.context["messages"])
        for sentence in expected:
            assert sentence in text


def test_test_connection_on_an_account_checks_its_npstoday_key(admin_client, fake_npstoday):
    good = AccountFactory(npstoday_api_key="nps-test-key")
    bad = AccountFactory(npstoday_api_key="not-a-key")
    for account, sentence in (
        (good, "nps.today accepted the key; it sees 2 campaign(s)."),
        (bad, "nps.today refused the API key (401)."),
    ):
        url = reverse("admin:integrations_account_test_connection", args=[account.pk])
        response = admin_client.post(url, follow=True)
        assert f"{account}: {sentence}" in [str(m) for m in response.context["messages"]]
    page = admin_client.get(reverse("admin:integrations_account_change", args=[good.pk]))
    assert 'id="test-connection"' in page.content.decode()


def test_test_connection_on_an_account_names_the_address_that_did_not_answer(
    admin_client, settings
):
    # given nps.today's address on a port nobody listens on
    settings.NPSTODAY_API_URL = DOWN
    account = AccountFactory(name="Acme", npstoday_api_key="nps-test-key")
    # when the account's connection is tested
    url = reverse("admin:integrations_account_test_connection", args=[account.pk])
    response = admin_client.post(url, follow=True)
    # then the message names the address and the reason, not an exception's class
    sentence = "Acme: nps.today (http://127.0.0.1:1) did not answer: the connection was refused."
    assert sentence in [str(m) for m in response.context["messages"]]


def test_apply_config_stores_the_queue_and_campaign_names(fake_npstoday, fake_dixa, tmp_path):
    config = tmp_path / "relay.yaml"
    config.write_text(
        "accounts:\n"
        "  - slug: acme\n"
        "    name: Acme\n"
        "    npstoday_api_key: nps-test-key\n"
        "    ivr_mappings:\n"
        "      - name: Support DK\n"
        "        campaign_id: 7232\n"
        f"        queue_id: {QUEUE_ID}\n"
        "        dixa_api_token: dixa-test-token\n"
    )
    call_command("apply_config", str(config))
    mapping = IvrMapping.objects.get()
    assert (mapping.queue_name, mapping.campaign_name) == ("Mail - General", "Relationsmåling Q1")


@hypothesis.settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.function_scoped_fixture,
    ],
)
@hypothesis.given(
    kind=st.sampled_from(["queues", "campaigns", "other"]),
    fields=st.dictionaries(
        st.sampled_from(["token", "account", "mapping"]), st.text(max_size=80), max_size=3
    ),
)
def test_any_input_to_the_pickers_gives_a_sentence_never_an_error(admin_client, kind, fields):
    # no outside API answers here: every path ends in a 4xx or 502 with a sentence
    url = reverse("admin:ivr_ivrmapping_options", args=[kind])
    with override_settings(DIXA_API_URL=DOWN, NPSTODAY_API_URL=DOWN):
        answer = admin_client.post(url, {k: v.replace("\x00", "") for k, v in fields.items()})
    assert answer.status_code in (200, 400, 404, 502)
    assert answer.json().get("error") or "options" in answer.json()
