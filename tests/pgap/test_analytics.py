"""P-GAP analytics selectors: exact numbers from a few pairs, computed by the database."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgap.selectors.analytics import (
    MAX_PERIODS,
    SUMS,
    PairFilter,
    Stats,
    day_start,
    pairs_filtered,
    period_starts,
    pgap_analytics,
    pgap_matrix,
    pgap_pair_rows,
    pgap_pairs_page,
)
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import PgapPairFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday; weeks below start on it


@pytest.fixture
def mapping(db):
    return IvrMappingFactory(name="Support DK", queue_id="q-support")


def pair(of, agent: int, customer: int, *, at=MONDAY, email="karla@corp.example", **extra):
    """One pair of mapping `of` (and its account): the agent predicted `agent`, the customer
    gave `customer`, answered at `at`."""
    return PgapPairFactory(
        prediction__mapping=of,
        prediction__score=agent,
        prediction__agent_email=email,
        prediction__agent_name=email.split("@")[0].title(),
        response__rating=customer,
        response__rating_time=at,
        **extra,
    )


def overall(f: PairFilter) -> Stats:
    return pgap_analytics(f).overall


def everything(mapping, **fields) -> PairFilter:
    window = {"start": MONDAY - timedelta(days=7), "end": MONDAY + timedelta(days=21)}
    return PairFilter(**{"accounts": [mapping.account_id], **window, **fields})


def test_three_pairs_give_the_documented_numbers(mapping):
    # given gaps +2 (9 vs 7), 0 (8 vs 8) and −1 (9 vs 10)
    pair(mapping, 9, 7)
    pair(mapping, 8, 8)
    pair(mapping, 9, 10)
    # when
    stats = overall(everything(mapping))
    # then
    assert stats.pairs == 3
    assert round(stats.mean_gap, 2) == 0.33
    assert stats.mean_abs_gap == 1.0
    assert stats.within_one_share == pytest.approx(2 / 3)
    assert (stats.over, stats.under) == (1, 1)
    # customers: 7, 8 passive, 10 promoter → (1 − 0) / 3; agents: 9, 9 promoters, 8 passive
    assert stats.customer_nps == pytest.approx(100 / 3)
    assert stats.agent_nps == pytest.approx(200 / 3)


def test_nps_counts_promoters_from_9_and_detractors_up_to_6(mapping):
    # given customer scores at the edges of each class, agents all at 7 (passive)
    for customer in (6, 7, 8, 9, 0, 10):
        pair(mapping, 7, customer)
    # when
    stats = overall(everything(mapping))
    # then 2 promoters (9, 10) − 2 detractors (6, 0) of 6, and no agent promoter or detractor
    assert stats.customer_nps == 0
    assert (stats.customer_promoters, stats.customer_detractors) == (2, 2)
    assert stats.agent_nps == 0
    assert (stats.agent_promoters, stats.agent_detractors) == (0, 0)


def test_no_pairs_gives_counts_of_zero_and_no_ratios(mapping):
    stats = overall(everything(mapping))
    assert stats.pairs == 0
    assert stats.mean_gap is stats.mean_abs_gap is stats.within_one_share is None
    assert stats.customer_nps is stats.agent_nps is None


def test_per_agent_rows_hold_each_agents_numbers(mapping):
    # given Karla over-estimates twice, Jonas under-estimates once
    pair(mapping, 10, 8)
    pair(mapping, 9, 8)
    pair(mapping, 5, 8, email="jonas@corp.example")
    # when
    rows = pgap_analytics(everything(mapping)).agents
    # then the busiest first
    assert [(r.key["agent_email"], r.key["agent_name"], r.pairs) for r in rows] == [
        ("karla@corp.example", "Karla", 2),
        ("jonas@corp.example", "Jonas", 1),
    ]
    karla, jonas = rows
    assert (karla.mean_gap, karla.over, karla.under, karla.within_one) == (1.5, 2, 0, 1)
    assert (jonas.mean_gap, jonas.mean_abs_gap, jonas.under) == (-3.0, 3.0, 1)


def test_per_mapping_rows_name_the_mapping_and_keep_unmapped_queues(mapping):
    # given two pairs of the mapping and one whose queue has no mapping
    pair(mapping, 8, 8)
    pair(mapping, 6, 8)
    pair(mapping, 9, 9, mapping=None, queue_id="q-unmapped")
    # when
    rows = pgap_analytics(everything(mapping)).mappings
    # then
    assert [(r.key["mapping_name"], r.key["queue_id"], r.pairs) for r in rows] == [
        ("Support DK", "q-support", 2),
        ("", "q-unmapped", 1),
    ]
    assert rows[0].mean_gap == -1.0


def test_trend_has_one_row_per_week_of_the_range_oldest_first(mapping):
    # given two pairs in the first week, none in the second, one in the third
    pair(mapping, 9, 7, at=MONDAY + timedelta(days=1))
    pair(mapping, 7, 7, at=MONDAY + timedelta(days=6, hours=23))
    pair(mapping, 4, 8, at=MONDAY + timedelta(days=15))
    # when the range starts mid-week and ends three weeks on
    f = PairFilter(
        accounts=[mapping.account_id],
        start=MONDAY + timedelta(days=1),
        end=MONDAY + timedelta(days=21),
    )
    rows = pgap_analytics(f, bucket="week").trend
    # then each row is labelled by its Monday and covers only the range
    assert [(r.key["period"], r.pairs, r.mean_gap) for r in rows] == [
        (MONDAY, 2, 1.0),
        (MONDAY + timedelta(days=7), 0, None),
        (MONDAY + timedelta(days=14), 1, -4.0),
    ]


def test_trend_by_month_labels_the_first_of_each_month(mapping):
    pair(mapping, 9, 9, at=datetime(2025, 1, 31, 23, tzinfo=UTC))
    pair(mapping, 3, 9, at=datetime(2025, 2, 1, 1, tzinfo=UTC))
    f = PairFilter(
        accounts=[mapping.account_id],
        start=datetime(2025, 1, 15, tzinfo=UTC),
        end=datetime(2025, 3, 1, tzinfo=UTC),
    )
    rows = pgap_analytics(f, bucket="month").trend
    assert [(r.key["period"].date(), r.pairs, r.customer_nps) for r in rows] == [
        (date(2025, 1, 1), 1, 100.0),
        (date(2025, 2, 1), 1, 100.0),
    ]


def test_period_starts_refuses_more_periods_than_a_page_draws():
    start = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="shorter range"):
        period_starts(start, start + timedelta(weeks=MAX_PERIODS + 1), "week")


def test_matrix_counts_pairs_per_agent_and_customer_score(mapping):
    pair(mapping, 9, 7)
    pair(mapping, 9, 7)
    pair(mapping, 0, 10)
    matrix = pgap_matrix(everything(mapping))
    assert len(matrix) == 11 and all(len(row) == 11 for row in matrix)
    assert matrix[9][7] == 2
    assert matrix[0][10] == 1
    assert sum(map(sum, matrix)) == 3


def test_filters_narrow_to_the_agent_mapping_period_agents_and_cell(mapping):
    other_mapping = IvrMappingFactory(account=mapping.account, queue_id="q-other")
    pair(mapping, 9, 7)
    pair(mapping, 8, 8, email="jonas@corp.example")
    pair(other_mapping, 5, 5)
    pair(mapping, 6, 6, at=MONDAY - timedelta(days=30))  # before the range
    assert overall(everything(mapping)).pairs == 3
    assert overall(everything(mapping, agent_email="jonas@corp.example")).pairs == 1
    assert overall(everything(mapping, mapping_id=other_mapping.pk)).pairs == 1
    assert overall(everything(mapping, agent_emails=["jonas@corp.example"])).pairs == 1
    assert overall(everything(mapping, agent_score=9, customer_score=7)).pairs == 1


def test_another_accounts_pairs_are_never_counted(mapping):
    pair(mapping, 9, 7)
    pair(IvrMappingFactory(), 1, 1)  # another account
    assert overall(everything(mapping)).pairs == 1
    assert overall(everything(mapping, accounts=[])).pairs == 0


def test_the_page_reads_the_pairs_with_two_grouped_queries(mapping):
    # given eleven agents, one pair each
    for agent in range(11):
        pair(mapping, agent, 10 - agent, email=f"agent{agent}@corp.example")
    # when
    with CaptureQueriesContext(connection) as queries:
        data = pgap_analytics(everything(mapping))
    # then the per-period matrices (one statement) and agent × mapping
    reads = [q["sql"] for q in queries.captured_queries if '"pgap_pgappair"' in q["sql"]]
    assert len(reads) == 2
    assert "UNION ALL" in reads[0] and "GROUP BY" in reads[1]
    assert data.overall.pairs == 11 and len(data.agents) == 11
    assert sum(s.pairs for s in data.trend) == 11


def test_pair_rows_stream_newest_first_with_the_survey(mapping):
    trigger = SurveyTriggerFactory(mapping=mapping, csid=424242, dedupe_key="424242:x")
    older = pair(mapping, 9, 7, at=MONDAY)
    newer = pair(mapping, 8, 8, at=MONDAY + timedelta(hours=1), response__trigger=trigger)
    rows = list(pgap_pair_rows(everything(mapping)))
    assert [row[4] for row in rows] == [newer.csid, older.csid]
    assert rows[0][-1] == trigger.pk and rows[1][-1] is None
    assert [p.pk for p in pgap_pairs_page(everything(mapping))] == [newer.pk, older.pk]


# --- property: the overall numbers derived from the matrix equal the database's ---------------

scores = st.integers(min_value=0, max_value=10)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(scores, scores), min_size=0, max_size=12))
def test_overall_from_the_matrix_equals_the_aggregate(mapping, scored):
    from pgap.models import PgapPair

    PgapPair.objects.all().delete()
    for agent, customer in scored:
        pair(mapping, agent, customer)
    f = everything(mapping)
    # the database's own sums over the pairs, against the page's numbers from its matrices
    direct = Stats.from_row(pairs_filtered(f).aggregate(**SUMS))
    derived = overall(f)
    for name in ("pairs", "within_one", "over", "under", "customer_promoters", "agent_detractors"):
        assert getattr(direct, name) == getattr(derived, name)
    for name in ("mean_gap", "mean_abs_gap", "customer_nps", "agent_nps"):
        if scored:
            assert getattr(direct, name) == pytest.approx(getattr(derived, name))
        else:
            assert getattr(direct, name) is getattr(derived, name) is None


def test_day_start_is_local_midnight(settings):
    assert day_start(date(2025, 3, 3)) == MONDAY
