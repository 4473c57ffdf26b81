"""IVR mappings in the management API: create, read, change, delete, validated as the admin
validates them; secrets write-only; surveys are never deleted with a mapping."""

import pytest

from integrations.audit.models import AuditEntry
from ivr.models import IvrMapping
from tests.integrations.api import make_staff, token_client
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(db):
    return AccountFactory(slug="acme")


@pytest.fixture
def client(account, django_user_model):
    return token_client(make_staff(django_user_model, "alice", account))


NEW = {
    "account": "acme",
    "name": "Support DK",
    "campaign_id": 7232,
    "queue_id": "986359e5",
    "dixa_api_token": "  dixa-token-1234 ",
    "channels": ["EMAIL", "WIDGET_CHAT"],
    "excluded_tags": ["spam"],
    "delay_minutes": 1440,
}


def test_a_mapping_is_created_with_its_rules_and_a_write_only_token(client, account):
    # when
    response = client.post("/api/v1/mappings", NEW, format="json")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert "dixa_api_token" not in body
    assert body["dixa_api_token_last4"] == "••••1234"
    mapping = IvrMapping.objects.get(pk=body["id"])
    assert (mapping.account, mapping.dixa_api_token) == (account, "dixa-token-1234")
    assert (mapping.channels, mapping.excluded_tags, mapping.delay_minutes) == (
        ["EMAIL", "WIDGET_CHAT"],
        ["spam"],
        1440,
    )
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.account_id) == ("IVR mapping add", account.pk)
    assert "dixa-token" not in entry.summary


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": ["FAX"]}, "channels"),
        ({"sample_percent": 101}, "sample_percent"),
        ({"campaign_id": -1}, "campaign_id"),
        ({"campaign_id": 2**40}, "campaign_id"),
        ({"dixa_api_token": "line\nbreak"}, "dixa_api_token"),
        ({"name": ""}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"excluded_tags": "spam"}, "excluded_tags"),
        ({"account": None}, "account"),
    ],
)
def test_invalid_fields_are_400_and_nothing_is_saved(client, account, change, field):
    # when
    response = client.post("/api/v1/mappings", {**NEW, **change}, format="json")
    # then
    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert not IvrMapping.objects.exists()


def test_the_same_queue_and_campaign_twice_is_a_400(client, account):
    # given
    IvrMappingFactory(account=account, queue_id=NEW["queue_id"], campaign_id=NEW["campaign_id"])
    # when
    response = client.post("/api/v1/mappings", {**NEW, "name": "again"}, format="json")
    # then
    assert response.status_code == 400
    assert IvrMapping.objects.count() == 1


def test_a_change_keeps_an_omitted_token_and_drops_stale_names(client, account):
    # given
    mapping = IvrMappingFactory(account=account, campaign_name="Old campaign")
    # when
    response = client.patch(
        f"/api/v1/mappings/{mapping.pk}", {"campaign_id": 99, "enabled": False}, format="json"
    )
    # then
    assert response.status_code == 200, response.content
    mapping.refresh_from_db()
    assert (mapping.campaign_id, mapping.enabled, mapping.campaign_name) == (99, False, "")
    assert mapping.dixa_api_token == "dixa-test-token"
    assert AuditEntry.objects.get().action == "IVR mapping change"


def test_an_empty_token_removes_it(client, account):
    # given
    mapping = IvrMappingFactory(account=account)
    # when
    response = client.patch(f"/api/v1/mappings/{mapping.pk}", {"dixa_api_token": ""}, format="json")
    # then
    assert response.status_code == 200 and response.json()["dixa_api_token_last4"] == ""
    mapping.refresh_from_db()
    assert mapping.dixa_api_token == ""


def test_a_mapping_with_surveys_is_not_deleted(client, account):
    # given
    used = SurveyTriggerFactory(mapping=IvrMappingFactory(account=account)).mapping
    unused = IvrMappingFactory(account=account, queue_id="unused")
    # when
    refused = client.delete(f"/api/v1/mappings/{used.pk}")
    deleted = client.delete(f"/api/v1/mappings/{unused.pk}")
    # then
    assert refused.status_code == 409 and "disable it instead" in refused.json()["detail"]
    assert deleted.status_code == 204
    assert list(IvrMapping.objects.all()) == [used]
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["IVR mapping delete"]


def test_filters_select_mappings(client, account):
    # given
    on = IvrMappingFactory(account=account, queue_id="q1")
    off = IvrMappingFactory(account=account, queue_id="q2", enabled=False)
    # when / then
    rows = client.get("/api/v1/mappings?enabled=false").json()["results"]
    assert [r["id"] for r in rows] == [off.pk]
    rows = client.get("/api/v1/mappings?queue_id=q1").json()["results"]
    assert [r["id"] for r in rows] == [on.pk]
    assert client.get("/api/v1/mappings?enabled=maybe").status_code == 400
