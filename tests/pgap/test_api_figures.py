"""P-GAP figures in the management API: the numbers of the admin's P-GAP page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.integrations.api import make_staff, token_client
from tests.pgap.factories import PgapPairFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pairs(db):
    first = PgapPairFactory(prediction__score=9, response__rating=7)  # gap +2
    mapping = first.mapping
    second = PgapPairFactory(
        prediction__mapping=mapping,
        prediction__agent_email="bo@corp.example",
        prediction__score=5,
        response__rating=6,  # gap -1
    )
    return mapping, [first, second]


@pytest.fixture
def client(pairs, django_user_model):
    mapping, _ = pairs
    return token_client(make_staff(django_user_model, "alice", mapping.account))


def test_figures_add_up_the_users_pairs(client, pairs):
    # when
    response = client.get("/api/v1/pgap/figures", {"by": "month"})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["overall"]["pairs"] == 2
    assert body["overall"]["mean_gap"] == pytest.approx(0.5)
    assert body["overall"]["within_one_share"] == pytest.approx(0.5)
    assert body["matrix"][9][7] == body["matrix"][5][6] == 1
    assert {a["agent_email"] for a in body["agents"]} == {"karla@corp.example", "bo@corp.example"}
    assert sum(p["pairs"] for p in body["trend"]) == 2
    assert body["by"] == "month"


def test_figures_narrow_by_agent_and_range(client, pairs):
    # given
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    # when
    one_agent = client.get("/api/v1/pgap/figures", {"agent": "bo@corp.example"}).json()
    later = client.get("/api/v1/pgap/figures", {"start": tomorrow, "end": tomorrow}).json()
    # then
    assert one_agent["overall"]["pairs"] == 1
    assert one_agent["overall"]["mean_gap"] == -1
    assert later["overall"]["pairs"] == 0 and later["overall"]["mean_gap"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-05-02", "end": "2026-05-01"}, "end"),
        ({"start": "1900-01-01", "end": "1900-01-02"}, "start"),
        ({"end": "0001-01-12"}, "end"),  # 30 days before it would be before date.min
        ({"end": "1970-01-10"}, "start"),  # the default start is before 1970
        ({"start": "3000-01-01", "end": "2026-01-01"}, "start"),
        ({"start": "2000-01-01", "end": "2020-01-01"}, "start"),
        ({"by": "day"}, "by"),
        ({"agent": "not an email"}, "agent"),
        ({"mapping": "x"}, "mapping"),
        ({"agent": ""}, "agent"),
        ({"bucket": "week"}, "bucket"),
    ],
)
def test_invalid_parameters_are_400_naming_the_field(client, query, field):
    # when
    response = client.get("/api/v1/pgap/figures", query)
    # then
    assert response.status_code == 400
    assert field in response.json()["detail"]
