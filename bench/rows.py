"""Section 6, rows that stay small: N events ingested and processed by the real processes,
then what they left on disk and how many versions each event's row went through."""

import time

import psycopg

from bench import accounts, closes, load, stack
from bench.report import table

EVENTS = 4_000
CONCURRENCY = 16
REQUEUE_AFTER_SECONDS = 900
OLD_HEAP_BYTES_PER_EVENT = 3.9 * 1024  # the design before the body moved to its own table
TABLES = {
    "integrations_inboundevent": "event",
    "integrations_inboundeventbody": "body",
    "integrations_handlerrun": "handler run",
}


def run() -> tuple[str, dict]:
    # A row handed over and not claimed within INBOUND_REQUEUE_AFTER_SECONDS (60 s) is
    # handed over again; a backlog of this size can wait longer than that on two busy
    # cores, so the window is widened: the versions counted are those of a row's normal life.
    environment = stack.env(INBOUND_REQUEUE_AFTER_SECONDS=REQUEUE_AFTER_SECONDS)
    keys = accounts.prepare(environment, 1)
    processes = stack.Processes(environment)
    try:
        running, port = processes.platform()
        # Closes on a queue no mapping covers: each is processed to the end (claimed, its
        # handlers run and recorded, outcome "skipped") without work for nps.today.
        requests, _csids = closes.requests(keys, EVENTS, port, queue=accounts.UNMAPPED_QUEUE)
        meter = stack.CpuMeter(
            **{name: p.pids for name, p in running.items()}, postgres=stack.postgres_pids
        )
        meter.start()
        began = time.monotonic()
        ingest = load.closed_loop("127.0.0.1", port, requests, CONCURRENCY)
        stack.wait_until(lambda: _unprocessed() == 0, 600, "every event to be processed", 1.0)
        processed_after = time.monotonic() - began
        cores = {k: v / meter.seconds for k, v in meter.stop().items()}
    finally:
        processes.stop()  # backends exit and flush their statistics
    raw = _measure()
    raw.update(
        events=EVENTS,
        ingest_statuses=ingest.statuses,
        ingest_per_second=ingest.throughput,
        all_processed_after_s=processed_after,
        cores=cores,
    )
    return render(raw), raw


def _unprocessed() -> int:
    with psycopg.connect(stack.PG_URL) as conn:
        return conn.execute(
            "SELECT count(*) FROM integrations_inboundevent WHERE processed_at IS NULL"
        ).fetchone()[0]


def _measure() -> dict:
    out = {}
    with psycopg.connect(stack.PG_URL, autocommit=True) as conn:
        time.sleep(1)
        for name in TABLES:
            size = conn.execute(
                "SELECT pg_relation_size(c.oid, 'main'), pg_table_size(c.oid), "
                "pg_indexes_size(c.oid), pg_total_relation_size(c.oid), "
                "coalesce(pg_relation_size(c.reltoastrelid), 0) "
                "FROM pg_class c WHERE c.relname = %s",
                [name],
            ).fetchone()
            stats = conn.execute(
                "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_live_tup, "
                "n_dead_tup, autovacuum_count, vacuum_count, autoanalyze_count "
                "FROM pg_stat_user_tables WHERE relname = %s",
                [name],
            ).fetchone()
            rows = conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # noqa: S608
            out[name] = {
                "heap_main_bytes": size[0],
                "table_bytes_with_toast": size[1],
                "index_bytes": size[2],
                "total_bytes": size[3],
                "toast_bytes": size[4],
                "rows": rows,
                **dict(
                    zip(
                        (
                            "n_tup_ins",
                            "n_tup_upd",
                            "n_tup_hot_upd",
                            "n_tup_del",
                            "n_live_tup",
                            "n_dead_tup",
                            "autovacuum_count",
                            "vacuum_count",
                            "autoanalyze_count",
                        ),
                        stats,
                        strict=True,
                    )
                ),
            }
        out["integrations_inboundevent"]["avg_live_row_bytes"] = float(
            conn.execute(
                "SELECT avg(pg_column_size(e.*)) FROM integrations_inboundevent e"
            ).fetchone()[0]
        )
        out["integrations_inboundeventbody"]["avg_live_row_bytes"] = float(
            conn.execute(
                "SELECT avg(pg_column_size(b.*)) FROM integrations_inboundeventbody b"
            ).fetchone()[0]
        )
        out["outcomes"] = dict(
            conn.execute(
                "SELECT outcome, count(*) FROM integrations_inboundevent GROUP BY outcome"
            ).fetchall()
        )
    return out


def render(raw: dict) -> str:
    n = raw["events"]
    event = raw["integrations_inboundevent"]
    heap = event["heap_main_bytes"] / n
    raw["summary"] = [
        [
            "event row heap per event (main fork)",
            f"{heap:.0f} B",
            f"(was {OLD_HEAP_BYTES_PER_EVENT / 1024:.1f} KB)",
            None,
        ],
        [
            "event + body + handler run, all forks and indexes, per event",
            f"{sum(raw[t]['total_bytes'] for t in TABLES) / n:.0f} B",
            "",
            None,
        ],
        [
            "row versions per event (1 + updates)",
            f"{1 + event['n_tup_upd'] / n:.2f}",
            "",
            None,
        ],
    ]
    rows = []
    for name, label in TABLES.items():
        t = raw[name]
        rows.append(
            [
                f"{label} (`{name}`)",
                f"{t['rows']}",
                f"**{t['heap_main_bytes'] / n:.0f}**",
                f"{t['toast_bytes'] / n:.0f}",
                f"{t['index_bytes'] / n:.0f}",
                f"{t['total_bytes'] / n:.0f}",
                f"{t['n_tup_upd'] / n:.2f} ({t['n_tup_hot_upd'] / n:.2f} HOT)",
                f"{t['n_dead_tup']}",
                f"{t['autovacuum_count']}",
            ]
        )
    total = sum(raw[t]["total_bytes"] for t in TABLES) / n
    return "\n".join(
        [
            "## 6. Rows that stay small",
            "",
            "Command: `make bench BENCH_ARGS=rows`. Raw: `bench/out/rows.json`.",
            "",
            f"{n} ConversationClosed events, each distinct, POSTed to the running platform "
            f"({CONCURRENCY} connections, {raw['ingest_per_second']:.0f} req/s, answers "
            f"{raw['ingest_statuses']}) on a queue with no IVR mapping, with every process "
            "`make run` starts running: each event was handed over by the dispatcher, claimed "
            "and processed by the events worker, its handlers' runs recorded and its outcome "
            f"written ({raw['outcomes']}), without work for nps.today; the last "
            f"{raw['all_processed_after_s']:.0f} s after the first POST (the machine meanwhile "
            f"{raw['cores']['rest of machine']:.2f} cores busy with other users' work). "
            f"`INBOUND_REQUEUE_AFTER_SECONDS={REQUEUE_AFTER_SECONDS}` (default 60): a backlog "
            "this size can wait longer than a minute on two shared cores, and the dispatcher "
            "would hand it over again, adding versions a row does not go through when the "
            "workers keep up. Then the processes "
            "were stopped (so their statistics are flushed) and the tables measured as they "
            "were left (autovacuum was free to run meanwhile; its runs are counted below). "
            "Bytes per event:",
            "",
            *table(
                [
                    "table",
                    "rows",
                    "heap, main fork",
                    "TOAST",
                    "indexes",
                    "total",
                    "updates per event",
                    "dead rows left",
                    "autovacuum runs",
                ],
                rows,
            ),
            "",
            f"An event's row went through **{1 + event['n_tup_upd'] / n:.2f} versions** (the "
            f"insert and {event['n_tup_upd'] / n:.2f} updates: handed over, claimed, finished; "
            f"{event['n_tup_hot_upd'] / n:.2f} of them HOT: each changes an indexed column or "
            "the status the partial indexes select on, so every version also gets new entries "
            "in the table's indexes). Heap of the event table: "
            f"**{heap:.0f} bytes per event** against {OLD_HEAP_BYTES_PER_EVENT:.0f} (3.9 KB) "
            f"in the old design, where each update copied the body as well; a live event row "
            f"is {event['avg_live_row_bytes']:.0f} bytes, the body row "
            f"{raw['integrations_inboundeventbody']['avg_live_row_bytes']:.0f} (written once, "
            f"never updated). Everything an event leaves, all forks and indexes of the three "
            f"tables: {total:.0f} bytes.",
            "",
        ]
    )
