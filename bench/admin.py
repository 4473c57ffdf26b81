"""The admin at scale: 1,000,000 inbound events and 600,000 surveys seeded
(`manage.py seed_admin_scale`) into a scratch PostgreSQL database, then every changelist,
filter, search, the customer lookup and the admin's first page loaded 20 times each through
Django's test client (view, queries, template; no HTTP server), as a superuser and as a staff
user scoped to one account, with each page's query count.

python -m bench.admin            # the section alone, printed (bench.run calls run())
python -m bench.admin measure    # measure an already seeded DATABASE_URL (JSON on stdout)

Goal: every page ≤ 300 ms at p95, its query count the same at any table size. The scratch
database (ADMIN_BENCH_DATABASE_URL, default relay_adminbench) is dropped at the end.
"""

import json
import os
import subprocess
import sys
import time

import psycopg

from bench import stack
from bench.report import ms, spread, table, verdict

EVENTS = 1_000_000
SURVEYS = 600_000
ACCOUNTS = 20
MAPPINGS = 10  # per account
DAYS = 365
LOADS = 20
WARM_UP = 2
GOAL_MS = 300
DB_URL = os.environ.get(
    "ADMIN_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relay_adminbench"
)
ADMIN_DB_URL = DB_URL.rsplit("/", 1)[0] + "/postgres"
DB_NAME = DB_URL.rsplit("/", 1)[1]


def run() -> tuple[str, dict]:
    """Seed, measure in a fresh process, drop the database; (markdown, raw figures)."""
    _database("create")
    try:
        environment = stack.env(DATABASE_URL=DB_URL)
        stack.manage("migrate", "--noinput", environment=environment)
        began = time.monotonic()
        stack.manage(
            "seed_admin_scale",
            f"--events={EVENTS}",
            f"--surveys={SURVEYS}",
            f"--accounts={ACCOUNTS}",
            f"--mappings={MAPPINGS}",
            f"--days={DAYS}",
            environment=environment,
        )
        seeded_s = time.monotonic() - began
        # The dashboard reads daily counts, made by beat every 5 minutes; count the seeded past.
        stack.manage("count_daily", "--days=30", environment=environment)
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # settled, as autovacuum leaves tables
            conn.execute("CHECKPOINT")
        out = subprocess.run(
            [sys.executable, "-m", "bench.admin", "measure"],
            cwd=stack.ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        raw = json.loads(out.strip().splitlines()[-1])
    finally:
        _database("drop")
    raw.update(events=EVENTS, surveys=SURVEYS, accounts=ACCOUNTS, seed_s=seeded_s)
    raw["summary"] = [
        [
            "slowest admin page at 1M events, p95 (ms)",
            ms(max(p["p95"] for p in raw["pages"])),
            f"≤ {GOAL_MS}",
            max(p["p95"] for p in raw["pages"]) <= GOAL_MS,
        ]
    ]
    return render(raw), raw


def _database(action: str) -> None:
    with psycopg.connect(ADMIN_DB_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def pages() -> list[tuple[str, str, str]]:
    """(who, page, URL) of every page measured."""
    from django.urls import NoReverseMatch, reverse

    from ivr.models import SurveyTrigger

    events = reverse("admin:integrations_inboundevent_changelist")
    surveys = reverse("admin:ivr_surveytrigger_changelist")
    mappings = reverse("admin:ivr_ivrmapping_changelist")
    rejected = reverse("admin:integrations_rejecteddelivery_changelist")
    guid = SurveyTrigger.objects.order_by("-pk").values_list("guid", flat=True).first()
    listed = [
        ("admin's first page", reverse("admin:index")),
        ("events", events),
        ("events, outcome skipped", events + "?outcome__exact=skipped"),
        ("events, outcome error (rare)", events + "?outcome__exact=error"),
        (
            "events, closes of the last 7 days",
            events + "?event_type=ConversationClosed&received_at_within=7",
        ),
        ("events, search csid", events + "?q=777777"),
        ("events, search email", events + "?q=customer-4242@example.com"),
        ("events, search phone", events + "?q=%2B4520004242"),
        ("events, search event id", events + "?q=scale-500000"),
        ("surveys", surveys),
        ("surveys, dead letters", surveys + "?status__exact=failed"),
        ("surveys, answered 5xx", surveys + "?last_status_code_class=5"),
        ("surveys, search guid", surveys + f"?q={guid}"),
        ("surveys, search csid", surveys + "?q=777777"),
        ("surveys, search email", surveys + "?q=customer-4242@example.com"),
        ("IVR mappings", mappings),
        ("rejected deliveries", rejected),
    ]
    try:
        lookup = reverse("admin:ivr_customer_lookup")
    except NoReverseMatch:
        lookup = None
    if lookup:
        listed += [
            ("customer lookup, email", lookup + "?q=customer-4242@example.com"),
            ("customer lookup, phone", lookup + "?q=%2B4520004242"),
            ("customer lookup, csid", lookup + "?q=777777"),
            ("customer lookup, guid", lookup + f"?q={guid}"),
        ]
    return [(who, name, url) for who in ("superuser", "staff") for name, url in listed]


class _QueryCounter(list):
    def __call__(self, execute, sql, params, many, context):
        self.append(sql)
        return execute(sql, params, many, context)


def measure() -> dict:
    """In a process of its own, on the seeded database: each page LOADS times."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test import Client

    from integrations.models import Account

    users = get_user_model().objects
    superuser = users.filter(username="admin-bench").first() or users.create_superuser(
        "admin-bench", password=None
    )
    staff = users.filter(username="admin-bench-staff").first()
    if staff is None:
        staff = users.create_user("admin-bench-staff", password=None, is_staff=True)
        staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
        Account.objects.get(slug="admin-scale-0").members.add(staff)
    clients = {"superuser": Client(), "staff": Client()}
    clients["superuser"].force_login(superuser)
    clients["staff"].force_login(staff)
    load_before = os.getloadavg()
    results = []
    for who, name, url in pages():
        client = clients[who]
        for _ in range(WARM_UP):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        queries = _QueryCounter()
        with connection.execute_wrapper(queries):
            client.get(url)
        loads = []
        for _ in range(LOADS):
            began = time.perf_counter()
            client.get(url)
            loads.append((time.perf_counter() - began) * 1000)
        results.append(
            {"who": who, "page": name, "url": url, "queries": len(queries), **spread(loads)}
        )
    return {"pages": results, "load_average": [load_before, os.getloadavg()]}


def render(raw: dict) -> str:
    load = ", ".join(f"{a[0]:.1f}" for a in raw["load_average"])
    rows = [
        [
            p["who"],
            p["page"],
            p["queries"],
            ms(p["p50"]),
            ms(p["p95"]),
            ms(p["max"]),
            verdict(p["p95"] <= GOAL_MS),
        ]
        for p in raw["pages"]
    ]
    return "\n".join(
        [
            "## The admin at scale: lists, searches, the customer lookup",
            "",
            f"`python -m bench.admin`: `seed_admin_scale --events {raw['events']:,} --surveys "
            f"{raw['surveys']:,} --accounts {raw['accounts']}` into a scratch database "
            f"({raw['seed_s']:.0f} s), `VACUUM ANALYZE` and `CHECKPOINT`, then in a fresh process "
            f"each page {LOADS} times after {WARM_UP} warm-up loads through Django's test client "
            "(view, queries and template; no HTTP server), as a superuser and as a staff user "
            f"who sees one of the {raw['accounts']} accounts. Load average (1 min) before and "
            f"after: {load}.",
            "",
            *table(
                ["user", "page", "queries", "p50 ms", "p95 ms", "max ms", f"p95 ≤ {GOAL_MS} ms"],
                rows,
            ),
            "",
        ]
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["measure"]:
        print(json.dumps(measure()))
    else:
        print(run()[0])
