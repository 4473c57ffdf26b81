"""P-GAP analytics: the agent's predicted score beside the customer's, counted by the
database. Two views of the pairs, one query each: the 11 × 11 matrix of each week or month
(GROUP BY agent score, customer score), which holds every number of its period exactly,
and agent × mapping (GROUP BY agent, mapping, queue: counts and sums, whose totals are the
per-agent and per-mapping tables). Python only adds up and divides those few rows (at most
121 per period, one per agent and mapping), never anything per pair."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Count, DateTimeField, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Abs
from django.utils import timezone

from ivr.models import IvrMapping
from pgap.models import PgapPair

SCORES = range(11)
AGENT_KEY = ("agent_email", "agent_name")
MAPPING_KEY = ("mapping_id", "mapping_name", "queue_id")
MAX_PERIODS = 130  # per trend: about ten years by month, two and a half by week
# What every group is reduced to, by the database: counts and sums, which add up across
# groups. Counts name columns of the covering index (never "id"), so that PostgreSQL reads
# the index only.
SUMS = {
    "pairs": Count("*"),
    "gap_sum": Sum("gap"),
    "abs_gap_sum": Sum(Abs("gap")),
    "within_one": Count("gap", filter=Q(gap__gte=-1, gap__lte=1)),
    "over": Count("gap", filter=Q(gap__gt=0)),
    "under": Count("gap", filter=Q(gap__lt=0)),
    "customer_promoters": Count("customer_score", filter=Q(customer_score__gte=9)),
    "customer_detractors": Count("customer_score", filter=Q(customer_score__lte=6)),
    "agent_promoters": Count("agent_score", filter=Q(agent_score__gte=9)),
    "agent_detractors": Count("agent_score", filter=Q(agent_score__lte=6)),
}


@dataclass(frozen=True)
class PairFilter:
    """Which pairs to read. `accounts` is never empty in use: it is what the user may see,
    narrowed by the form. `end` is exclusive."""

    accounts: Sequence[int]
    start: datetime | None = None
    end: datetime | None = None
    mapping_id: int | None = None
    agent_email: str | None = None
    agent_emails: Sequence[str] = ()  # a coaching period's agents; empty: every agent
    agent_score: int | None = None
    customer_score: int | None = None


@dataclass(frozen=True)
class Stats:
    """One group's counts and sums; means, shares and NPS are None when it has no pairs."""

    pairs: int
    gap_sum: int
    abs_gap_sum: int
    within_one: int
    over: int
    under: int
    customer_promoters: int
    customer_detractors: int
    agent_promoters: int
    agent_detractors: int
    key: dict = field(default_factory=dict)  # what the group is: agent, mapping, period …

    @classmethod
    def from_row(cls, row: dict) -> "Stats":
        return cls(
            **{name: row[name] or 0 for name in SUMS},
            key={k: v for k, v in row.items() if k not in SUMS},
        )

    @classmethod
    def total(cls, groups: Sequence["Stats"], **key) -> "Stats":
        """The groups added up (counts and sums add; means are taken afterwards)."""
        return cls(**{name: sum(getattr(g, name) for g in groups) for name in SUMS}, key=key)

    @classmethod
    def from_matrix(cls, matrix: Sequence[Sequence[int]], **key) -> "Stats":
        """The same numbers from the 11 × 11 counts (which hold all of them exactly)."""
        cells = [(a, c, matrix[a][c]) for a in SCORES for c in SCORES if matrix[a][c]]

        def count(test) -> int:
            return sum(n for a, c, n in cells if test(a, c))

        return cls(
            pairs=count(lambda a, c: True),
            gap_sum=sum(n * (a - c) for a, c, n in cells),
            abs_gap_sum=sum(n * abs(a - c) for a, c, n in cells),
            within_one=count(lambda a, c: abs(a - c) <= 1),
            over=count(lambda a, c: a > c),
            under=count(lambda a, c: a < c),
            customer_promoters=count(lambda a, c: c >= 9),
            customer_detractors=count(lambda a, c: c <= 6),
            agent_promoters=count(lambda a, c: a >= 9),
            agent_detractors=count(lambda a, c: a <= 6),
            key=key,
        )

    @property
    def mean_gap(self) -> float | None:
        """The mean of agent − customer: above 0, agents expect more than they get."""
        return self.gap_sum / self.pairs if self.pairs else None

    @property
    def mean_abs_gap(self) -> float | None:
        """The mean distance between the two scores, whichever way."""
        return self.abs_gap_sum / self.pairs if self.pairs else None

    def share(self, count: int) -> float | None:
        return count / self.pairs if self.pairs else None

    @property
    def within_one_share(self) -> float | None:
        return self.share(self.within_one)

    @property
    def over_share(self) -> float | None:
        return self.share(self.over)

    @property
    def under_share(self) -> float | None:
        return self.share(self.under)

    @property
    def customer_nps(self) -> float | None:
        """% promoters (9–10) − % detractors (0–6) of the customers' scores."""
        return nps(self.customer_promoters, self.customer_detractors, self.pairs)

    @property
    def agent_nps(self) -> float | None:
        """The same NPS computed from the agents' predictions."""
        return nps(self.agent_promoters, self.agent_detractors, self.pairs)


@dataclass(frozen=True)
class Analytics:
    overall: Stats
    agents: list[Stats]
    mappings: list[Stats]
    trend: list[Stats]
    matrix: list[list[int]]  # matrix[agent_score][customer_score] = pairs


def nps(promoters: int, detractors: int, total: int) -> float | None:
    return 100 * (promoters - detractors) / total if total else None


def pairs_filtered(f: PairFilter) -> QuerySet[PgapPair]:
    qs = PgapPair.objects.filter(account_id__in=list(f.accounts))
    if f.start is not None:
        qs = qs.filter(answered_at__gte=f.start)
    if f.end is not None:
        qs = qs.filter(answered_at__lt=f.end)
    if f.mapping_id is not None:
        qs = qs.filter(mapping_id=f.mapping_id)
    if f.agent_email is not None:
        qs = qs.filter(agent_email=f.agent_email)
    if f.agent_emails:
        qs = qs.filter(agent_email__in=list(f.agent_emails))
    if f.agent_score is not None:
        qs = qs.filter(agent_score=f.agent_score)
    if f.customer_score is not None:
        qs = qs.filter(customer_score=f.customer_score)
    return qs.order_by()


def pgap_by_agent_and_mapping(f: PairFilter) -> list[Stats]:
    """One row per agent, mapping and queue (a pair without a mapping keeps its queue id),
    keyed by agent_email, agent_name, mapping_id, mapping_name and queue_id."""
    rows = list(
        pairs_filtered(f)
        .values("agent_email", "mapping_id", "queue_id")
        .annotate(agent_name=Max("agent_name"), **SUMS)
    )
    ids = {row["mapping_id"] for row in rows if row["mapping_id"] is not None}
    names = dict(IvrMapping.objects.filter(pk__in=ids).values_list("pk", "name"))
    for row in rows:
        row["mapping_name"] = names.get(row["mapping_id"], "")
    return [Stats.from_row(row) for row in rows]


def totals_by(groups: Sequence[Stats], *names: str) -> list[Stats]:
    """`groups` added up per value of the key `names` (the first of each group's other
    key values kept too), the busiest first."""
    merged: dict[tuple, list[Stats]] = {}
    for group in groups:
        merged.setdefault(tuple(group.key[n] for n in names), []).append(group)
    totals = [Stats.total(members, **members[0].key) for members in merged.values()]
    return sorted(totals, key=lambda s: (-s.pairs, *(str(s.key[n]) for n in names)))


def agents_of(groups: Sequence[Stats]) -> list[Stats]:
    """The per-agent rows of agent × mapping groups."""
    return [_keyed(s, AGENT_KEY) for s in totals_by(groups, "agent_email")]


def mappings_of(groups: Sequence[Stats]) -> list[Stats]:
    """The per-mapping (and queue) rows of agent × mapping groups."""
    return [_keyed(s, MAPPING_KEY) for s in totals_by(groups, "mapping_id", "queue_id")]


def _keyed(stats: Stats, names: Sequence[str]) -> Stats:
    return replace(stats, key={name: stats.key[name] for name in names})


def day_start(day: date) -> datetime:
    """Midnight at the start of `day`, in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def period_starts(start: datetime, end: datetime, bucket: str) -> list[datetime]:
    """The starts (local midnight) of the weeks, Monday first, or months that [start, end)
    touches."""
    day = timezone.localtime(start).date()
    day = day - timedelta(days=day.weekday()) if bucket == "week" else day.replace(day=1)
    starts = []
    while (moment := day_start(day)) < end:
        if len(starts) == MAX_PERIODS:
            raise ValueError(f"more than {MAX_PERIODS} {bucket}s: choose a shorter range")
        starts.append(moment)
        day = (
            day + timedelta(days=7)
            if bucket == "week"
            else (day + timedelta(days=31)).replace(day=1)
        )
    return starts


def _empty_matrix() -> list[list[int]]:
    return [[0 for _ in SCORES] for _ in SCORES]


def pgap_matrix(f: PairFilter) -> list[list[int]]:
    """Pairs per (agent score, customer score): matrix[agent][customer], 11 × 11."""
    matrix = _empty_matrix()
    rows = (
        pairs_filtered(f)
        .values("agent_score", "customer_score")
        .annotate(pairs=Count("*"))
        .values_list("agent_score", "customer_score", "pairs")
    )
    for agent, customer, count in rows:
        matrix[agent][customer] = count
    return matrix


def pgap_matrices(f: PairFilter, *, bucket: str = "week") -> list[tuple[datetime, list]]:
    """The matrix of each week (from Monday) or month of the filter's range, oldest first,
    labelled by the period's start; only pairs inside the range count. One statement: a
    GROUP BY (agent score, customer score) per period over its own slice of the
    (account, answered_at) index, joined by UNION ALL, so no row is bucketed one by one."""
    if f.start is None or f.end is None:
        raise ValueError("the trend needs a start and an end")
    starts = period_starts(f.start, f.end, bucket)
    if not starts:
        return []
    bounds = [max(starts[0], f.start), *starts[1:], f.end]
    cells = pairs_filtered(replace(f, start=None, end=None)).values("agent_score", "customer_score")
    parts = [
        cells.filter(answered_at__gte=low, answered_at__lt=high)
        .annotate(period=Value(label, output_field=DateTimeField()), pairs=Count("*"))
        .values_list("period", "agent_score", "customer_score", "pairs")
        for label, low, high in zip(starts, bounds, bounds[1:], strict=False)
    ]
    matrices = {label: _empty_matrix() for label in starts}
    for period, agent, customer, count in parts[0].union(*parts[1:], all=True):
        matrices[period][agent][customer] = count
    return list(matrices.items())


def pgap_analytics(f: PairFilter, *, bucket: str = "week") -> Analytics:
    """Everything the P-GAP page shows, in two passes over the pairs: a matrix per period
    (their sum is the whole range's matrix, and each holds its period's numbers exactly)
    and agent × mapping (whose sums are the per-agent and per-mapping tables)."""
    with planned_for_their_values():
        matrices = pgap_matrices(f, bucket=bucket)
        groups = pgap_by_agent_and_mapping(f)
    matrix = [
        [sum(m[agent][customer] for _, m in matrices) for customer in SCORES] for agent in SCORES
    ]
    return Analytics(
        overall=Stats.from_matrix(matrix),
        agents=agents_of(groups),
        mappings=mappings_of(groups),
        trend=[Stats.from_matrix(m, period=period) for period, m in matrices],
        matrix=matrix,
    )


@contextmanager
def planned_for_their_values():
    """On PostgreSQL, plan each query for its own values. The platform prepares statements
    that run often (POSTGRESQL_OPTIONS), and after a few runs PostgreSQL may keep one
    generic plan for any range: for a quarter of a year of pairs it reads them about half
    as fast again as a plan made for that range."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


EXPORT_FIELDS = (
    "answered_at",
    "account__slug",
    "mapping__name",
    "queue_id",
    "csid",
    "agent_email",
    "agent_name",
    "agent_score",
    "customer_score",
    "gap",
    "response__trigger_id",
)


def pgap_pair_rows(f: PairFilter, *, chunk_size: int = 2000) -> Iterator[tuple]:
    """The filtered pairs as tuples of EXPORT_FIELDS, newest first, streamed from a
    server-side cursor (memory stays flat however many there are)."""
    return (
        pairs_filtered(f)
        .order_by("-answered_at", "-id")
        .values_list(*EXPORT_FIELDS)
        .iterator(chunk_size=chunk_size)
    )


def pgap_pairs_page(f: PairFilter) -> QuerySet[PgapPair]:
    """The filtered pairs for the drill-down list, newest first, with what it links to."""
    return (
        pairs_filtered(f)
        .select_related("mapping", "response")
        .only(
            "account_id",
            "csid",
            "answered_at",
            "agent_email",
            "agent_name",
            "agent_score",
            "customer_score",
            "gap",
            "queue_id",
            "mapping__name",
            "response__trigger_id",
            "response__comment",
        )
        .order_by("-answered_at", "-id")
    )
