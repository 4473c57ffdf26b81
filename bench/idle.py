"""Section 5, an idle platform: every process `make run` starts, nothing arriving, for a
minute. How often does it ask the database anything?

pg_stat_statements is not loaded on this server (it needs `shared_preload_libraries` and a
restart), so the count comes from counters PostgreSQL keeps anyway, read from another
database so that reading them adds nothing:
- pg_stat_database.xact_commit + xact_rollback of the benchmark's database: every statement
  the platform runs outside a transaction block is its own transaction, so this counts
  statements, with a multi-statement transaction counted once;
- pg_stat_user_tables: sequential + index scans started on the platform's tables (each
  query starts at least one);
- pg_stat_activity, sampled every SAMPLE_SECONDS: each backend's (query_start, query) seen,
  which names the statements (a statement that starts and ends between two samples of an
  otherwise busy backend can be missed, so it is a floor).
Backends send their counters to the statistics system when they go idle, at most once a
second and at the latest ~10 s later, so the window's edges are blurred by that much.
"""

import os
import time

import psycopg

from bench import stack
from bench.report import table, verdict

SETTLE_SECONDS = 12  # start-up work done and its statistics flushed
WINDOW_SECONDS = 60
SAMPLE_SECONDS = 0.1
GOAL_PER_SECOND = 2.0


def _counters(admin, bench) -> dict[str, int]:
    xacts = admin.execute(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
        [stack.DB_NAME],
    ).fetchone()[0]
    scans = bench.execute(
        "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
        "FROM pg_stat_user_tables"
    ).fetchone()[0]
    return {"transactions": int(xacts), "table scans": int(scans)}


def run() -> tuple[str, dict]:
    environment = stack.env()
    stack.fresh_database()
    stack.manage("migrate", "--noinput", environment=environment)
    processes = stack.Processes(environment)
    try:
        running, _port = processes.platform()
        time.sleep(SETTLE_SECONDS)
        meter = stack.CpuMeter(
            **{name: p.pids for name, p in running.items()}, postgres=stack.postgres_pids
        )
        with (
            psycopg.connect(stack.ADMIN_URL, autocommit=True) as admin,
            psycopg.connect(stack.PG_URL, autocommit=True) as bench,
        ):
            before = _counters(admin, bench)  # this read is the bench connection's 1st xact
            meter.start()
            seen = _sample(admin, WINDOW_SECONDS, exclude=bench.info.backend_pid)
            cpu = meter.stop()
            after = _counters(admin, bench)
        backends = len({pid for pid, _, _ in seen})
    finally:
        processes.stop()
    # The bench connection's own first read committed inside the window; subtract it.
    delta = {k: after[k] - before[k] for k in before}
    delta["transactions"] -= 1
    statements: dict[str, int] = {}
    for _pid, _start, query in seen:
        statements[query] = statements.get(query, 0) + 1
    raw = {
        "window_seconds": meter.seconds,
        "per_second": {k: v / meter.seconds for k, v in delta.items()},
        "counts": delta,
        "sampled_statements": len(seen),
        "sampled_backends": backends,
        "statements": dict(sorted(statements.items(), key=lambda i: -i[1])),
        "cpu_seconds": cpu,
        "cpu_share_of_a_core": {k: v / meter.seconds for k, v in cpu.items()},
    }
    return render(raw), raw


def _sample(admin, seconds: float, exclude: int) -> set[tuple[int, object, str]]:
    """(pid, query_start, query) of every statement seen on the benchmark's database
    (but the benchmark's own connection there, `exclude`)."""
    seen = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid, start, query in admin.execute(
            "SELECT pid, query_start, query FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s AND query_start IS NOT NULL",
            [stack.DB_NAME, exclude],
        ):
            seen.add((pid, start, " ".join(query.split())[:160]))
        time.sleep(SAMPLE_SECONDS)
    return seen


def render(raw: dict) -> str:
    rate = raw["per_second"]["transactions"]
    ok = rate <= GOAL_PER_SECOND
    raw["summary"] = [
        ["idle platform: database statements/s", f"{rate:.2f}/s", "≤ 2/s", ok],
    ]
    window = raw["window_seconds"]
    top = list(raw["statements"].items())[:8]
    cpu = raw["cpu_share_of_a_core"]
    return "\n".join(
        [
            "## 5. Idle: how often an idle platform queries the database",
            "",
            "Command: `make bench BENCH_ARGS=idle`. Raw: `bench/out/idle.json`.",
            "",
            "Every process `make run` starts (web, worker-events, worker-http, beat, "
            f"dispatcher), on an empty, migrated database, idle; measured for {window:.0f} s "
            f"after {SETTLE_SECONDS} s of settling. pg_stat_statements is not loaded on this "
            "server (it needs `shared_preload_libraries` and a restart, which a shared "
            "PostgreSQL does not get), so the figure is the benchmark database's transaction "
            "counter (`pg_stat_database.xact_commit + xact_rollback`, read from another "
            "database; the platform runs in autocommit, so each statement outside a "
            "transaction block is one transaction), cross-checked with the scans started on "
            "its tables (`pg_stat_user_tables`) and with `pg_stat_activity` sampled every "
            f"{SAMPLE_SECONDS * 1000:.0f} ms. Backends report their counters when they go "
            "idle, at most once a second and at the latest about 10 s later, which blurs the "
            "window's edges by that much.",
            "",
            *table(
                ["measure", f"in {window:.0f} s", "per second"],
                [
                    [
                        "transactions (statements)",
                        raw["counts"]["transactions"],
                        f"**{rate:.2f}**",
                    ],
                    [
                        "table scans started",
                        raw["counts"]["table scans"],
                        f"{raw['per_second']['table scans']:.2f}",
                    ],
                    [
                        f"statements seen by sampling (backends seen: {raw['sampled_backends']})",
                        raw["sampled_statements"],
                        f"{raw['sampled_statements'] / window:.2f}",
                    ],
                ],
            ),
            "",
            f"Goal ≤ {GOAL_PER_SECOND:.0f} statements/s: {verdict(ok)}.",
            "",
            "The statements sampled most often (a sample shows each backend's latest statement, "
            "so of a burst only its last is seen):",
            "",
            *table(["times seen", "statement"], [[n, f"`{q}`"] for q, n in top]),
            "",
            "CPU while idle (share of one core): "
            + ", ".join(f"{k} {v * 100:.1f} %" for k, v in cpu.items())
            + f" ({os.cpu_count()} cores in all).",
            "",
        ]
    )
