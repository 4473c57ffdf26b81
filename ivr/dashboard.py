"""The dashboard's survey panel: per account and mapping, today and the last 7 days (closes,
delivered, skipped by reason, dead letters, held now) and a chart of the last 30 days. Reads
DailyCount (ivr.services.daily_counts) and the held surveys, never the event tables."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.urls import reverse
from django.utils import timezone

from integrations.admin.getting_started import Guide, admin_link, register_step
from integrations.admin.scoping import visible_accounts
from integrations.dashboard import register_panel
from ivr.models import DailyCount, IvrMapping, SurveyTrigger

Metric = DailyCount.Metric
CHART_DAYS = 30
TABLE_DAYS = 7
CHART_SERIES = (
    (Metric.CLOSES, "Closes", "closes"),
    (Metric.DELIVERED, "Delivered", "delivered"),
    (Metric.SKIPPED, "Skipped", "skipped"),
    (Metric.DEAD, "Dead letters", "dead"),
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 960, 230, 48, 12, 12, 28


@dataclass
class Figures:
    today: int = 0
    week: int = 0


@dataclass
class Row:
    """One mapping of an account (or its closes that no mapping took)."""

    name: str
    link: str = ""
    counts: dict = field(default_factory=lambda: defaultdict(Figures))
    skipped_reasons: dict = field(default_factory=lambda: defaultdict(Figures))
    held: int = 0
    dead_link: str = ""
    held_link: str = ""

    def cell(self, metric) -> Figures:
        return self.counts[metric]

    @property
    def reasons(self) -> list[tuple[str, Figures]]:
        return sorted(self.skipped_reasons.items(), key=lambda item: (-item[1].week, item[0]))


def survey_dashboard(accounts, *, today: date) -> dict:
    week_start = today - timedelta(days=TABLE_DAYS - 1)
    counts = DailyCount.objects.filter(account__in=accounts, day__gte=week_start, day__lte=today)
    table = (
        counts.values("account_id", "mapping_id", "metric", "reason")
        .annotate(today=Sum("count", filter=Q(day=today)), week=Sum("count"))
        .order_by()
    )
    mappings = {
        m.pk: m for m in IvrMapping.objects.filter(account__in=accounts).select_related("account")
    }
    names = dict(accounts.values_list("pk", "name"))
    rows: dict[tuple, Row] = {}

    def row_of(account_id, mapping_id) -> Row:
        key = (account_id, mapping_id)
        if key not in rows:
            rows[key] = _row(mappings.get(mapping_id), account_id)
        return rows[key]

    for item in table:
        row = row_of(item["account_id"], item["mapping_id"])
        target = row.skipped_reasons[item["reason"]] if item["metric"] == Metric.SKIPPED else None
        for figures in filter(None, (row.counts[item["metric"]], target)):
            figures.today += item["today"] or 0
            figures.week += item["week"] or 0
    held = (
        SurveyTrigger.objects.filter(status=SurveyTrigger.Status.HELD, account__in=accounts)
        .values_list("account_id", "mapping_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for account_id, mapping_id, n in held:
        row_of(account_id, mapping_id).held = n

    by_account = defaultdict(list)
    for (account_id, _), row in rows.items():
        by_account[account_id].append(row)
    return {
        "accounts": [
            {"name": names.get(account_id, ""), "rows": sorted(r, key=lambda row: row.name)}
            for account_id, r in sorted(by_account.items(), key=lambda kv: names.get(kv[0], ""))
        ],
        "chart": chart(accounts, today=today),
        "counted_at": DailyCount.objects.filter(account__in=accounts, day=today).aggregate(
            at=Max("counted_at")
        )["at"],
        "every_minutes": counting_interval_minutes(),
        "metrics": Metric,
    }


def counting_interval_minutes() -> int:
    """How often beat counts the days (its `count-daily` entry)."""
    every = settings.CELERY_BEAT_SCHEDULE["count-daily"]["schedule"]
    return max(1, round(every.total_seconds() / 60))


def _row(mapping: IvrMapping | None, account_id: int) -> Row:
    survey_list = reverse("admin:ivr_surveytrigger_changelist")
    if mapping is None:
        return Row(name="(no mapping)")
    filters = f"mapping__id__exact={mapping.pk}"
    return Row(
        name=mapping.name,
        link=reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]),
        dead_link=f"{survey_list}?status__exact=failed&{filters}",
        held_link=f"{survey_list}?status__exact=held&{filters}",
    )


def chart(accounts, *, today: date) -> dict:
    """Geometry of the 30-day line chart: one polyline per metric, drawn by the template."""
    first = today - timedelta(days=CHART_DAYS - 1)
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    totals = defaultdict(int)
    rows = (
        DailyCount.objects.filter(
            account__in=accounts,
            day__gte=first,
            day__lte=today,
            metric__in=[metric for metric, _, _ in CHART_SERIES],
        )
        .values_list("day", "metric")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for day, metric, n in rows:
        totals[(day, metric)] = n
    high = max([totals[key] for key in totals] + [1])
    step = (WIDTH - LEFT - RIGHT) / (CHART_DAYS - 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: int) -> float:
        return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / high), 1)

    series = []
    for metric, label, css in CHART_SERIES:
        values = [totals[(day, metric)] for day in days]
        points = [
            {"x": x(i), "y": y(v), "title": f"{day:%b %d}: {v} {label.lower()}"}
            for i, (day, v) in enumerate(zip(days, values, strict=True))
        ]
        series.append(
            {
                "label": label,
                "css": css,
                "total": sum(values),
                "points": points,
                "path": " ".join(f"{p['x']},{p['y']}" for p in points),
            }
        )
    ticks = [(y(value), value) for value in _ticks(high)]
    labels = [(x(i), f"{day:%b %d}") for i, day in enumerate(days) if i % 5 == 0 or i == 29]
    return {
        "series": series,
        "y_ticks": ticks,
        "x_labels": labels,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "empty": not any(s["total"] for s in series),
    }


def _ticks(high: int) -> list[int]:
    step = max(1, -(-high // 4))
    return list(range(0, high + 1, step))


def survey_panel(request) -> dict | None:
    if not request.user.has_perm("ivr.view_surveytrigger"):
        return None
    return survey_dashboard(visible_accounts(request.user), today=timezone.localdate())


def mapping_guide(request, account, done) -> Guide:
    title = "A Dixa queue mapped to an nps.today campaign"
    if account is None or done:
        return Guide(title)
    return Guide(title, [admin_link(request, IvrMapping, "add an IVR mapping", account=account)])


register_panel("surveys", "admin/dashboard/surveys.html", survey_panel, order=20)
register_step(
    "mapping",
    order=30,
    done=lambda: Exists(IvrMapping.objects.filter(account=OuterRef("pk"))),
    guide=mapping_guide,
    adds=(IvrMapping,),
)
