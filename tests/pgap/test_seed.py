"""seed_pgap: synthetic pairs with their predictions and responses, for benchmarks."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from pgap.models import AgentPrediction, PgapPair, SurveyResponse

pytestmark = pytest.mark.django_db


def test_seed_writes_consistent_pairs_spread_over_accounts_and_days(capsys):
    # when
    call_command(
        "seed_pgap",
        "--pairs",
        "50",
        "--accounts",
        "2",
        "--agents",
        "3",
        "--days",
        "10",
        "--batch-size",
        "20",
    )
    # then
    assert "50 pairs seeded" in capsys.readouterr().out
    assert PgapPair.objects.count() == AgentPrediction.objects.count() == 50
    assert SurveyResponse.objects.count() == 50
    assert PgapPair.objects.values("account").distinct().count() == 2
    assert PgapPair.objects.values("agent_email").distinct().count() <= 3
    assert not PgapPair.objects.exclude(gap=F("agent_score") - F("customer_score")).exists()
    assert not PgapPair.objects.exclude(agent_score=F("prediction__score")).exists()
    assert not PgapPair.objects.exclude(customer_score=F("response__rating")).exists()
    assert not PgapPair.objects.exclude(csid=F("response__csid")).exists()
    assert not PgapPair.objects.exclude(answered_at=F("response__rating_time")).exists()
    prediction = AgentPrediction.objects.first()
    assert prediction.created_at is not None and prediction.status == "captured"


def test_seeding_twice_adds_new_conversations_to_the_same_accounts():
    call_command("seed_pgap", "--pairs", "5")
    call_command("seed_pgap", "--pairs", "5")
    assert PgapPair.objects.count() == 10
    assert PgapPair.objects.values("account").distinct().count() == 1


def test_seed_refuses_a_count_below_one():
    with pytest.raises(CommandError, match="--pairs"):
        call_command("seed_pgap", "--pairs", "0")
