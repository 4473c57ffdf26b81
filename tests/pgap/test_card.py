"""The card's endpoint, POST /api/dixa/card, against the fake nps.today over real HTTP: auth,
nps.today's token and echo, the token cache, our history and P-GAP, bad input, a down or
slow nps.today, and tenant isolation."""

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from integrations.services.api_keys import api_key_create
from ivr.models import SurveyTrigger
from pgap.models import CardSetup
from pgap.services import card_token
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import PgapPairFactory, PgapSetupFactory, SurveyResponseFactory

pytestmark = pytest.mark.django_db

URL = "/api/dixa/card"
BODY = {
    "employeeEmail": "karla@corp.example",
    "customer_email": "jane@example.com",
    "customer_phone_number": "+4520304050",
}


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"ApiKey:{key}".encode()).decode()


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def card_account(fake_npstoday):
    return AccountFactory(npstoday_api_key="nps-test-key")


@pytest.fixture
def card_key(card_account):
    return api_key_create(account=card_account, name="dixa-card").plaintext


def post(client, body, key=None, *, auth=None, content_type="application/json"):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {}
    if auth is not None or key is not None:
        headers["HTTP_AUTHORIZATION"] = auth if auth is not None else basic(key)
    return client.post(URL, data=data, content_type=content_type, **headers)


def pair(mapping, agent_email: str, *, agent: int, customer: int):
    return PgapPairFactory(
        prediction__mapping=mapping,
        prediction__agent_email=agent_email,
        prediction__score=agent,
        response__rating=customer,
    )


def token_calls(fake):
    return fake.recorded("/employees/token")


# --- nps.today's token and echo -------------------------------------------------------------


def test_the_answer_carries_npstodays_token_and_echo(client, card_key, fake_npstoday):
    # when Dixa's card calls with Basic ApiKey:<our key> and seed 001's body
    response = post(client, BODY, card_key)
    # then the answer has nps.today's token, and the body echoed as nps.today echoes it
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["token"].count(".") == 2
    assert answer["echo"] == BODY
    assert answer["feedback"]["available"] is True
    # and nps.today was asked with the account's key as Basic ApiKey:<nps.today key>
    (call,) = token_calls(fake_npstoday)
    assert call.headers["authorization"] == basic("nps-test-key")
    assert call.json() == BODY


def test_bearer_works_as_well(client, card_key):
    response = post(client, BODY, auth=f"Bearer {card_key}")
    assert response.status_code == 200
    assert response.json()["token"]


@pytest.mark.parametrize(
    "auth",
    [None, "Basic " + base64.b64encode(b"ApiKey:dsr_wrongwrongwrong").decode(), "Bearer nope"],
)
def test_a_wrong_or_missing_key_is_401(client, card_account, auth, fake_npstoday):
    response = post(client, BODY, auth=auth) if auth else post(client, BODY)
    assert response.status_code == 401
    assert response.json()["error"] in {"missing_credentials", "invalid_credentials"}
    assert token_calls(fake_npstoday) == []


def test_a_revoked_key_is_401(client, card_account):
    from integrations.services.api_keys import api_key_revoke

    issued = api_key_create(account=card_account, name="dixa-card")
    api_key_revoke(api_key=issued.api_key)
    assert post(client, BODY, issued.plaintext).status_code == 401


def test_get_is_405(client, card_key):
    response = client.get(URL, HTTP_AUTHORIZATION=basic(card_key))
    assert response.status_code == 405


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "JSON parse error"),
        (b"", "the body is empty"),
        (b'{"customer_email": NaN}', "JSON parse error"),
        (b'{"x": 1e999}', "out of range"),
        (b'{"x": "\\ud800"}', "unpaired surrogate"),
        (b"[" * 60_000, "nested too deeply"),
        (b'{"x": "' + b"a" * 70_000 + b'"}', "over 64 KiB"),
    ],
)
def test_a_body_that_is_not_json_is_400_with_a_reason(client, card_key, body, reason):
    response = post(client, body, card_key)
    assert response.status_code == 400
    assert reason in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_email", "not-an-email"),
        ("customer_email", '"</script><script>alert(1)</script>"@example.com'),
        ("employeeEmail", "karla@"),
        ("customer_phone_number", "call me maybe"),
        ("customer_email", 12),
    ],
)
def test_a_malformed_email_or_phone_is_400_naming_the_field(
    client, card_key, field, value, fake_npstoday
):
    response = post(client, {**BODY, field: value}, card_key)
    assert response.status_code == 400
    assert field in json.dumps(response.json()["detail"])
    assert token_calls(fake_npstoday) == []


def test_a_list_body_is_400(client, card_key):
    response = post(client, [BODY], card_key)
    assert response.status_code == 400


def test_a_placeholder_dixa_left_unfilled_counts_as_no_value(client, card_key):
    body = {**BODY, "customer_email": "{{customer_email}}", "customer_phone_number": ""}
    response = post(client, body, card_key)
    assert response.status_code == 200
    answer = response.json()
    assert answer["echo"]["customer_email"] == ""
    assert answer["customer"] == {"email": "", "phone": "", "surveyed": False}


def test_an_unknown_customer_gets_200_and_an_empty_history(client, card_key):
    response = post(client, {**BODY, "customer_email": "nobody@example.com"}, card_key)
    assert response.status_code == 200
    assert response.json()["surveys"] == []


# --- nps.today down, slow or refusing ---------------------------------------------------------


def test_a_slow_npstoday_gives_feedback_unavailable(client, card_key, fake_npstoday, settings):
    # given nps.today answering after longer than the card waits
    settings.CARD_NPSTODAY_TIMEOUT_SECONDS = 0.3
    fake_npstoday.push({"hang": 2})
    # when
    response = post(client, BODY, card_key)
    # then the card still gets its answer, telling the template the feedback is unavailable
    assert response.status_code == 200
    answer = response.json()
    assert answer["token"] == ""
    assert answer["feedback"] == {
        "available": False,
        "reason": f"nps.today ({fake_npstoday.url}) did not answer: no answer within 0.3 s",
        "app_url": settings.NPSTODAY_FEEDBACK_APP_URL,
    }
    assert answer["echo"] == BODY


def test_the_default_wait_for_npstoday_leaves_time_before_dixa_gives_up(settings):
    # Dixa waits 10 s; the card answers within 8 s: the token call's limit plus our reads
    assert settings.CARD_NPSTODAY_TIMEOUT_SECONDS + card_token.RATE_LIMIT_MAX_WAIT <= 6


def test_after_a_failure_cards_say_unavailable_without_asking_again(
    client, card_key, fake_npstoday
):
    # given nps.today down
    fake_npstoday.push({"status": 503})
    first = post(client, BODY, card_key).json()
    # when another card opens right after
    second = post(client, {**BODY, "employeeEmail": "other@corp.example"}, card_key).json()
    # then both say why, and nps.today was asked once
    assert first["feedback"]["reason"] == second["feedback"]["reason"] == "nps.today answered 503"
    assert len(token_calls(fake_npstoday)) == 1
    # and once the pause is over, it is asked again
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        third = post(client, BODY, card_key).json()
    assert third["feedback"]["available"] is True


def test_when_every_waiting_slot_is_taken_the_card_answers_at_once(
    client, card_key, fake_npstoday, monkeypatch
):
    # given as many requests of this process waiting for nps.today as it allows
    import threading

    monkeypatch.setattr(card_token, "_waiting", threading.BoundedSemaphore(1))
    card_token._waiting.acquire()
    # when another card misses the cache
    answer = post(client, BODY, card_key).json()
    # then it does not wait in line: unavailable, nps.today not asked
    assert answer["feedback"]["reason"] == "nps.today is slow to answer"
    assert token_calls(fake_npstoday) == []
    # and once a slot is free, cards ask again
    card_token._waiting.release()
    assert post(client, BODY, card_key).json()["feedback"]["available"] is True


def test_a_refused_npstoday_key_is_named(client, card_account, card_key):
    card_account.npstoday_api_key = "revoked-at-nps-today"
    card_account.save()
    answer = post(client, BODY, card_key).json()
    assert answer["feedback"]["reason"] == "nps.today refused the account's API key (401)"


def test_an_account_without_npstoday_key_gets_no_call(client, fake_npstoday):
    account = AccountFactory(npstoday_api_key="")
    key = api_key_create(account=account, name="card").plaintext
    answer = post(client, BODY, key).json()
    assert answer["feedback"]["reason"] == "the account has no nps.today API key"
    assert token_calls(fake_npstoday) == []


def test_an_answer_without_a_token_is_unavailable(client, card_key, fake_npstoday):
    fake_npstoday.push({"status": 200, "body": {"echo": {}}})
    answer = post(client, BODY, card_key).json()
    assert answer["feedback"]["reason"] == "nps.today answered without a token"


# --- the token cache --------------------------------------------------------------------------


def test_the_token_is_cached_per_account_and_employee(client, card_key, fake_npstoday):
    # when three cards of one agent open, then one of another agent
    tokens = [
        post(client, {**BODY, "customer_email": f"c{i}@x.example"}, card_key) for i in range(3)
    ]
    other = post(client, {**BODY, "employeeEmail": "bo@corp.example"}, card_key).json()
    # then nps.today was asked once per agent, and each card echoes its own body
    assert len({t.json()["token"] for t in tokens}) == 1
    assert other["token"] != tokens[0].json()["token"]
    assert len(token_calls(fake_npstoday)) == 2
    assert tokens[2].json()["echo"]["customer_email"] == "c2@x.example"


def test_the_token_is_asked_for_again_shortly_before_it_expires(client, card_key, fake_npstoday):
    first = post(client, BODY, card_key).json()["token"]
    # 22 hours on: still cached (nps.today's tokens last 24 hours)
    with time_machine.travel(timezone.now() + timedelta(hours=22)):
        assert post(client, BODY, card_key).json()["token"] == first
    # 23 hours and a minute on: within the last hour of its life, a new one is asked for
    with time_machine.travel(timezone.now() + timedelta(hours=23, minutes=1)):
        assert post(client, BODY, card_key).json()["token"] != first
    assert len(token_calls(fake_npstoday)) == 2


def test_a_token_without_expiry_is_kept_24_hours_at_most():
    assert card_token._lifetime("opaque-token") == 24 * 3600
    claims = base64.urlsafe_b64encode(b'{"exp": 1}').decode().rstrip("=")
    assert card_token._lifetime(f"h.{claims}.s") < 0  # already expired: not kept
    assert card_token._lifetime("h.!!!.s") == 24 * 3600


def test_a_new_npstoday_key_asks_for_a_new_token(client, card_account, card_key, fake_npstoday):
    fake_npstoday.api_keys.add("nps-second-key")
    post(client, BODY, card_key)
    card_account.npstoday_api_key = "nps-second-key"
    card_account.save()
    post(client, BODY, card_key)
    keys = [c.headers["authorization"] for c in token_calls(fake_npstoday)]
    assert keys == [basic("nps-test-key"), basic("nps-second-key")]


# --- personal page ---------------------------------------------------------------------------


def test_the_personal_page_off_body_works(client, card_key, fake_npstoday):
    body = {k: v for k, v in BODY.items() if k != "employeeEmail"}
    answer = post(client, body, card_key).json()
    assert answer["token"] and answer["echo"] == body
    assert answer["personal_page"] is False and answer["pgap"] is None
    assert "employeeEmail" not in token_calls(fake_npstoday)[0].json()


def test_an_account_can_enforce_the_personal_page_off(
    client, card_account, card_key, fake_npstoday
):
    # given the account's card with the personal page off, and P-GAP set up
    CardSetup.objects.create(account=card_account, personal_page=False)
    PgapSetupFactory(account=card_account)
    # when Dixa's body still names the agent
    answer = post(client, BODY, card_key).json()
    # then nps.today never learns the agent, and the card shows no agent's data
    assert "employeeEmail" not in token_calls(fake_npstoday)[0].json()
    assert "employeeEmail" not in answer["echo"]
    assert answer["personal_page"] is False and answer["pgap"] is None


# --- our history and P-GAP ---------------------------------------------------------------------


def test_the_history_shows_each_survey_and_its_answer(client, card_account, card_key):
    # given three surveys of the customer: answered, dead, pending
    mapping = IvrMappingFactory(account=card_account, campaign_name="Support CSAT")
    now = timezone.now()
    answered = SurveyTriggerFactory(
        mapping=mapping, status=SurveyTrigger.Status.DELIVERED, finished_at=now
    )
    SurveyResponseFactory(
        account=card_account, trigger=answered, rating=9, comment="Quick and kind"
    )
    dead = SurveyTriggerFactory(
        mapping=mapping,
        status=SurveyTrigger.Status.FAILED,
        respondent_email="",
        reason="nps.today answered 400: respondent needs an emailAddress",
    )
    SurveyTriggerFactory(mapping=mapping, respondent_phone="")
    SurveyTrigger.objects.filter(pk=answered.pk).update(created_at=now - timedelta(days=2))
    SurveyTrigger.objects.filter(pk=dead.pk).update(created_at=now - timedelta(days=1))
    # when
    surveys = post(client, BODY, card_key).json()["surveys"]
    # then newest first, by email or by phone, each saying where it stands
    assert [s["status"] for s in surveys] == ["pending", "failed", "delivered"]
    pending, failed, delivered = surveys
    assert pending["status_text"] == "waiting to be sent" and pending["answered"] is False
    assert failed["delivered"] is False
    assert failed["reason"] == "nps.today answered 400: respondent needs an emailAddress"
    assert delivered["campaign"] == "Support CSAT" and delivered["delivered"] is True
    assert (delivered["score"], delivered["comment"]) == (9, "Quick and kind")
    assert delivered["date"] == (now - timedelta(days=2)).date().isoformat()


def test_the_history_is_as_long_as_the_setup_says(client, card_account, card_key):
    CardSetup.objects.create(account=card_account, history_size=2)
    SurveyTriggerFactory.create_batch(4, mapping=IvrMappingFactory(account=card_account))
    assert len(post(client, BODY, card_key).json()["surveys"]) == 2


def test_the_customer_email_matches_whatever_its_case(client, card_account, card_key):
    SurveyTriggerFactory(mapping=IvrMappingFactory(account=card_account), respondent_phone="")
    body = {**BODY, "customer_email": "Jane@Example.COM", "customer_phone_number": ""}
    assert len(post(client, body, card_key).json()["surveys"]) == 1


def test_the_agents_pgap_is_shown_when_pgap_is_set_up(client, card_account, card_key):
    # given P-GAP set up and two pairs of the assigned agent, one of another agent
    PgapSetupFactory(account=card_account)
    mapping = IvrMappingFactory(account=card_account)
    pair(mapping, "karla@corp.example", agent=7, customer=9)
    pair(mapping, "karla@corp.example", agent=8, customer=8)
    pair(mapping, "bo@corp.example", agent=2, customer=9)
    # when
    pgap = post(client, BODY, card_key).json()["pgap"]
    # then
    assert pgap["agent_email"] == "karla@corp.example"
    assert pgap["count"] == 2 and pgap["average_gap"] == -1.0
    assert pgap["within_one_percent"] == 50
    assert sorted(p["gap"] for p in pgap["recent"]) == [-2, 0]


def test_no_pgap_section_without_pgap_setup(client, card_key):
    assert post(client, BODY, card_key).json()["pgap"] is None


# --- tenant isolation -----------------------------------------------------------------------


def test_nothing_of_one_account_is_shown_for_anothers_key(client, card_account, fake_npstoday):
    # given the same customer and agent surveyed in account A, and account B with its own key
    SurveyTriggerFactory(mapping=IvrMappingFactory(account=card_account))
    PgapSetupFactory(account=card_account)
    fake_npstoday.api_keys.add("nps-key-of-b")
    account_b = AccountFactory(npstoday_api_key="nps-key-of-b")
    PgapSetupFactory(account=account_b)
    key_a = api_key_create(account=card_account, name="card").plaintext
    key_b = api_key_create(account=account_b, name="card").plaintext
    # when both cards open for that customer
    a = post(client, BODY, key_a).json()
    b = post(client, BODY, key_b).json()
    # then B sees none of A's surveys, and gets a token of its own from its own key
    assert len(a["surveys"]) == 1 and b["surveys"] == []
    assert b["pgap"]["count"] == 0
    assert a["token"] != b["token"]
    keys = [c.headers["authorization"] for c in token_calls(fake_npstoday)]
    assert keys == [basic("nps-test-key"), basic("nps-key-of-b")]
