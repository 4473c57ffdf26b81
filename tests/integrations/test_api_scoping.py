"""Tenant isolation in the management API, as thorough as the admin's: two tenants, a staff
user of one, every endpoint and action. Another account's objects are a 404 exactly like
objects that do not exist; its slugs and ids in filters and bodies are field errors; its rows
never show and never change."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.audit.models import AuditEntry
from integrations.models import InboundEvent
from ivr.models import IvrMapping, SurveyTrigger
from tests.integrations.api import VIEW_PERMS, make_staff, token_client
from tests.integrations.factories import AccountFactory, InboundEventFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import PgapPairFactory

pytestmark = pytest.mark.django_db

MARKER = "THEIRS"
Status = SurveyTrigger.Status


def make_tenant(slug: str) -> dict:
    account = AccountFactory(slug=slug, name=f"{slug.upper()} Corp")
    mapping = IvrMappingFactory(account=account, name=f"{slug.upper()} mapping")
    finished = timezone.now() - timedelta(minutes=5)
    return {
        "account": account,
        "mapping": mapping,
        "event": InboundEventFactory(
            account=account, event_id=f"{slug.upper()}-event", status="processed"
        ),
        "failed": SurveyTriggerFactory(mapping=mapping, status=Status.FAILED, finished_at=finished),
        "pending": SurveyTriggerFactory(mapping=mapping, status=Status.PENDING),
        "cancelled": SurveyTriggerFactory(mapping=mapping, status=Status.CANCELLED),
        "pair": PgapPairFactory(prediction__mapping=mapping, prediction__agent_email="a@x.test"),
    }


@pytest.fixture
def ours(db):
    return make_tenant("ours")


@pytest.fixture
def theirs(db):
    return make_tenant("theirs")


@pytest.fixture
def client(ours, theirs, django_user_model):
    return token_client(make_staff(django_user_model, "alice", ours["account"]))


def their_paths(theirs) -> list[str]:
    return [
        f"/api/v1/accounts/{theirs['account'].slug}",
        f"/api/v1/events/{theirs['event'].pk}",
        f"/api/v1/surveys/{theirs['failed'].pk}",
        f"/api/v1/mappings/{theirs['mapping'].pk}",
    ]


LISTS = ["/api/v1/accounts", "/api/v1/events", "/api/v1/surveys", "/api/v1/mappings"]


@pytest.mark.parametrize("path", LISTS)
def test_lists_show_only_the_users_accounts(client, ours, path):
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert results
    slugs = {row.get("account", row.get("slug")) for row in results}
    assert slugs == {"ours"}
    assert MARKER not in response.content.decode()


def test_another_accounts_objects_are_404_like_missing_ones(client, theirs):
    for path in their_paths(theirs):
        # when
        theirs_response = client.get(path)
        missing_response = client.get(path.rsplit("/", 1)[0] + "/999999")
        # then: the same answer whether the object exists elsewhere or not at all
        assert theirs_response.status_code == 404, path
        assert theirs_response.json() == missing_response.json()
        assert MARKER not in theirs_response.content.decode()


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("events/{event}/reprocess", "reprocess"),
        ("surveys/{failed}/resend", "resend"),
        ("surveys/{pending}/cancel", "cancel"),
        ("surveys/{pending}/retry", "retry"),
    ],
)
def test_actions_on_another_accounts_objects_are_404_and_change_nothing(
    client, theirs, path, action
):
    # given
    url = "/api/v1/" + path.format(**{k: v.pk for k, v in theirs.items()})
    before = {
        "event": InboundEvent.objects.get(pk=theirs["event"].pk).status,
        "surveys": sorted(SurveyTrigger.objects.values_list("pk", "status", "reason")),
    }
    # when
    response = client.post(url, {}, format="json")
    # then
    assert response.status_code == 404
    assert InboundEvent.objects.get(pk=theirs["event"].pk).status == before["event"]
    assert sorted(SurveyTrigger.objects.values_list("pk", "status", "reason")) == before["surveys"]
    assert not AuditEntry.objects.exists()


def test_mapping_writes_on_another_account_are_404_and_change_nothing(client, theirs):
    # given
    mapping = theirs["mapping"]
    url = f"/api/v1/mappings/{mapping.pk}"
    body = {"account": "theirs", "name": "taken", "campaign_id": 1, "queue_id": "q"}
    # when
    answers = [
        client.patch(url, {"name": "taken"}, format="json"),
        client.put(url, body, format="json"),
        client.delete(url),
    ]
    # then
    assert [a.status_code for a in answers] == [404, 404, 404]
    mapping.refresh_from_db()
    assert mapping.name == "THEIRS mapping"


def test_a_mapping_cannot_be_created_in_or_moved_to_another_account(client, ours, theirs):
    # when
    created = client.post(
        "/api/v1/mappings",
        {"account": "theirs", "name": "new", "campaign_id": 1, "queue_id": "q"},
        format="json",
    )
    moved = client.patch(
        f"/api/v1/mappings/{ours['mapping'].pk}", {"account": "theirs"}, format="json"
    )
    # then: their slug reads as unknown, the same as a slug nobody has
    unknown = client.post(
        "/api/v1/mappings",
        {"account": "nobody", "name": "new", "campaign_id": 1, "queue_id": "q"},
        format="json",
    )
    assert created.status_code == moved.status_code == 400
    assert set(created.json()["detail"]) == {"account"}
    assert created.json()["detail"]["account"] == [
        m.replace("nobody", "theirs") for m in unknown.json()["detail"]["account"]
    ]
    assert not IvrMapping.objects.filter(name="new").exists()
    assert IvrMapping.objects.get(pk=ours["mapping"].pk).account == ours["account"]


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/events?account=theirs",
        "/api/v1/surveys?account=theirs",
        "/api/v1/mappings?account=theirs",
        "/api/v1/surveys?mapping={mapping}",
        "/api/v1/pgap/figures?account=theirs",
        "/api/v1/pgap/figures?mapping={mapping}",
    ],
)
def test_filters_naming_another_account_are_field_errors(client, theirs, query):
    # when
    response = client.get(query.format(mapping=theirs["mapping"].pk))
    # then
    assert response.status_code == 400
    field = query.split("?")[1].split("=")[0]
    assert set(response.json()["detail"]) == {field}
    assert MARKER not in response.content.decode()


def test_resend_since_touches_only_the_users_accounts(client, ours, theirs):
    # when
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    mine = client.post("/api/v1/surveys/resend-dead-letters", {"since": since}, format="json")
    other = client.post(
        "/api/v1/surveys/resend-dead-letters",
        {"since": since, "account": "theirs"},
        format="json",
    )
    # then
    assert mine.status_code == 202 and mine.json() == {"resent": 1}
    assert other.status_code == 400 and set(other.json()["detail"]) == {"account"}
    assert SurveyTrigger.objects.get(pk=ours["failed"].pk).status == Status.PENDING
    assert SurveyTrigger.objects.get(pk=theirs["failed"].pk).status == Status.FAILED
    assert {e.account_id for e in AuditEntry.objects.all()} == {ours["account"].pk}


def test_pgap_figures_count_only_the_users_pairs(client, ours, theirs):
    # when
    response = client.get("/api/v1/pgap/figures")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["overall"]["pairs"] == 1
    assert {m["mapping_id"] for m in body["mappings"]} == {ours["mapping"].pk}


def test_a_superuser_sees_every_account(ours, theirs, django_user_model):
    # given
    root = django_user_model.objects.create_superuser("root", password="pw")
    client = token_client(root)
    # then
    for path in LISTS:
        slugs = {r.get("account", r.get("slug")) for r in client.get(path).json()["results"]}
        assert slugs == {"ours", "theirs"}, path
    for path in their_paths(theirs):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/pgap/figures").json()["overall"]["pairs"] == 2


ALL_ENDPOINTS = [
    ("get", "/api/v1/accounts"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/surveys"),
    ("get", "/api/v1/mappings"),
    ("get", "/api/v1/pgap/figures"),
    ("post", "/api/v1/events/{event}/reprocess"),
    ("post", "/api/v1/surveys/{failed}/resend"),
    ("post", "/api/v1/surveys/{pending}/cancel"),
    ("post", "/api/v1/surveys/{pending}/retry"),
    ("post", "/api/v1/surveys/resend-dead-letters"),
    ("post", "/api/v1/mappings"),
    ("patch", "/api/v1/mappings/{mapping}"),
    ("delete", "/api/v1/mappings/{mapping}"),
]


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
def test_who_is_not_active_staff_is_refused_everywhere(
    ours, theirs, django_user_model, method, path
):
    # given a member of the account who is not staff, and one who is staff without permissions
    url = path.format(**{k: v.pk for k, v in ours.items()})
    not_staff = token_client(make_staff(django_user_model, "bob", ours["account"], is_staff=False))
    no_perms = token_client(make_staff(django_user_model, "carol", ours["account"], perms=()))
    # when / then
    assert getattr(not_staff, method)(url, {}, format="json").status_code == 403
    assert getattr(no_perms, method)(url, {}, format="json").status_code == 403


@pytest.mark.parametrize(("method", "path"), [e for e in ALL_ENDPOINTS if e[0] != "get"])
def test_view_permission_reads_but_does_not_act(ours, theirs, django_user_model, method, path):
    # given
    viewer = token_client(make_staff(django_user_model, "dave", ours["account"], perms=VIEW_PERMS))
    url = path.format(**{k: v.pk for k, v in ours.items()})
    # when / then
    assert viewer.get("/api/v1/surveys").status_code == 200
    assert getattr(viewer, method)(url, {}, format="json").status_code == 403
    assert not AuditEntry.objects.exists()
