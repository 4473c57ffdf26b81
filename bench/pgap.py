"""P-GAP analytics at scale: 1,000,000 pairs seeded (`manage.py seed_pgap`) into a scratch
PostgreSQL database; the P-GAP page for the last 90 days loaded 20 times through Django's
test client (the view, its queries and its template; no HTTP server), its queries timed one
by one, and the CSV export of 100,000 rows streamed while the process' memory is sampled.

python -m bench.pgap            # the section alone, printed (bench.run can call run())

Goals: the page ≤ 500 ms at p95, the export ≤ 5 s with memory that does not grow with the
rows. The scratch database (PGAP_BENCH_DATABASE_URL, default relay_pgapbench) is dropped
at the end.
"""

import json
import os
import subprocess
import sys
import time

import psycopg

from bench import stack
from bench.report import ms, spread, table, verdict

PAIRS = 1_000_000
DAYS = 365  # one year of pairs: a 90-day page reads about a quarter of them
AGENTS = 40
MAPPINGS = 3
LOADS = 20
WARM_UP = 2
CSV_ROWS = 100_000
PAGE_GOAL_MS = 500
CSV_GOAL_S = 5
DB_URL = os.environ.get(
    "PGAP_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relay_pgapbench"
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
            "seed_pgap",
            f"--pairs={PAIRS}",
            f"--agents={AGENTS}",
            f"--days={DAYS}",
            f"--mappings={MAPPINGS}",
            environment=environment,
        )
        seeded_s = time.monotonic() - began
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            # Settled, as autovacuum leaves tables: otherwise its passes over the 3,000,000
            # rows just written, and the checkpoint, run during the measurement.
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        out = subprocess.run(
            [sys.executable, "-m", "bench.pgap", "measure"],
            cwd=stack.ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        raw = json.loads(out.strip().splitlines()[-1])
    finally:
        _database("drop")
    raw.update(pairs=PAIRS, days=DAYS, agents=AGENTS, seed_s=seeded_s)
    return render(raw), raw


def _database(action: str) -> None:
    with psycopg.connect(ADMIN_DB_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def measure() -> dict:
    """In a process of its own, on the seeded database: the page, its queries, the CSV."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from integrations.models import Account

    user = get_user_model().objects.create_superuser("pgap-bench", password=None)
    client = Client()
    client.force_login(user)
    page = reverse("admin:pgap_pgappair_changelist") + "?period=90"
    load_before = os.getloadavg()
    for _ in range(WARM_UP):
        assert client.get(page).status_code == 200
    loads = []
    for _ in range(LOADS):
        began = time.perf_counter()
        response = client.get(page)
        loads.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
    account = Account.objects.get(slug="pgap-bench-0")
    shown, timings = _queries(account)
    return {
        "page_ms": loads,
        "page_pairs": shown,
        "queries_ms": timings,
        "csv": _export(client, account),
        "load_average": [load_before, os.getloadavg()],
    }


def _queries(account) -> tuple[int, dict[str, float]]:
    """The pairs the page shows, and its selectors one by one (best of three, ms)."""
    from datetime import timedelta

    from django.utils import timezone

    from pgap.selectors import analytics

    today = timezone.localdate()
    f = analytics.PairFilter(
        accounts=[account.pk],
        start=analytics.day_start(today - timedelta(days=89)),
        end=analytics.day_start(today + timedelta(days=1)),
    )
    calls = {
        "a matrix per week (13 weeks, one statement)": lambda: analytics.pgap_matrices(f),
        "agent × mapping (the per-agent and per-mapping tables)": lambda: (
            analytics.pgap_by_agent_and_mapping(f)
        ),
    }
    timings = {}
    for name, call in calls.items():
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            with analytics.planned_for_their_values():
                call()
            best = min(best, (time.perf_counter() - began) * 1000)
        timings[name] = best
    return analytics.Stats.from_matrix(analytics.pgap_matrix(f)).pairs, timings


def _export(client, account) -> dict:
    """Stream the export of the last N days holding ~CSV_ROWS pairs; RSS sampled."""
    from django.urls import reverse
    from django.utils import timezone

    days = -(-CSV_ROWS * DAYS // PAIRS)  # ceil: enough days for CSV_ROWS pairs
    today = timezone.localdate()
    start = today.toordinal() - days + 1
    query = f"?period=custom&start={_iso(start)}&end={today.isoformat()}"
    url = reverse("admin:pgap_pgappair_export") + query
    rss_start = _rss_mib()
    began = time.perf_counter()
    response = client.get(url)
    first_row, rows, samples, size = None, -1, [], 0  # the header is not a row
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
        if first_row is None and rows > 0:
            first_row = time.perf_counter() - began
        if rows >= 10_000 * (len(samples) + 1):
            samples.append((rows, _rss_mib()))
    total = time.perf_counter() - began
    samples.append((rows, _rss_mib()))
    return {
        "rows": rows,
        "days": days,
        "bytes": size,
        "first_row_s": first_row,
        "total_s": total,
        "rss_start_mib": rss_start,
        "rss_samples": samples,
    }


def _iso(ordinal: int) -> str:
    from datetime import date

    return date.fromordinal(ordinal).isoformat()


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def render(raw: dict) -> str:
    page = spread(raw["page_ms"])
    csv = raw["csv"]
    rss = [mib for _, mib in csv["rss_samples"]]
    growth = max(rss) - csv["rss_start_mib"]
    load = ", ".join(f"{a[0]:.1f}" for a in raw["load_average"])
    lines = [
        "## P-GAP analytics: the page and the CSV export over 1,000,000 pairs",
        "",
        f"`python -m bench.pgap`: `seed_pgap --pairs {raw['pairs']:,} --agents {raw['agents']} "
        f"--days {raw['days']}` into a scratch database ({raw['seed_s']:.0f} s), `VACUUM "
        "ANALYZE` and `CHECKPOINT`, then in a fresh process the P-GAP page for the last 90 days "
        f"({raw['page_pairs']:,} pairs) {LOADS} times after {WARM_UP} warm-up loads, "
        "through Django's test client as a superuser (view, queries and template; no HTTP "
        f"server). Load average (1 min) before and after: {load}.",
        "",
        *table(
            ["", "p50", "p95", "max", "goal"],
            [
                [
                    "P-GAP page, 90 days (ms)",
                    ms(page["p50"]),
                    ms(page["p95"]),
                    ms(page["max"]),
                    f"p95 ≤ {PAGE_GOAL_MS}: {verdict(page['p95'] <= PAGE_GOAL_MS)}",
                ]
            ],
        ),
        "",
        "The page's queries, one by one (best of three):",
        "",
        *table(["query", "ms"], [[name, ms(v)] for name, v in raw["queries_ms"].items()]),
        "",
        f"CSV export of the last {csv['days']} days: {csv['rows']:,} rows "
        f"({csv['bytes'] / 2**20:.1f} MiB), first row after {csv['first_row_s']:.2f} s, "
        f"all of it after {csv['total_s']:.2f} s (goal ≤ {CSV_GOAL_S} s: "
        f"{verdict(csv['total_s'] <= CSV_GOAL_S)}). The process' memory while it streamed: "
        f"{csv['rss_start_mib']:.0f} MiB before, at most {max(rss):.0f} MiB "
        f"(+{growth:.1f} MiB, sampled every 10,000 rows: "
        f"{', '.join(f'{mib:.0f}' for mib in rss)}).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["measure"]:
        print(json.dumps(measure()))
    else:
        print(run()[0])
