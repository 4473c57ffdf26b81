"""Section 2, the relay end to end: Dixa's POST → gunicorn → dispatcher → events worker →
http worker → the fake nps.today (its own process, answering at once), on PostgreSQL and
Redis, with every process `make run` starts."""

import statistics
import time

import psycopg

from bench import accounts, closes, load, stack
from bench.report import ms, spread, table, verdict

ACCOUNTS = 10  # one nps.today key each: 50/s stays under the 10/s per-key limit
RATE = 50
SECONDS = 20
P50_GOAL_MS, P99_GOAL_MS = 25.0, 250.0

# Each stage's start and end, from the rows (every time is set by our own processes'
# clocks, on this one machine). (label, SQL expression in ms)
STAGES = [
    ("ingest: due → event stored", None),
    ("dispatcher: stored → handed to Celery", "e.queued_at - e.received_at"),
    ("events queue: handed over → claimed", "e.processing_started_at - e.queued_at"),
    ("events worker: claimed → survey created", "t.created_at - e.processing_started_at"),
    ("surveys queue: created → claimed by http worker", "t.sending_started_at - t.created_at"),
    ("http worker: claimed → nps.today has the member", None),
]


def run() -> tuple[str, dict]:
    processes = stack.Processes(stack.env())
    try:
        fake, fake_url = processes.fake_npstoday(
            [accounts.npstoday_key(i) for i in range(ACCOUNTS)]
        )
        processes.env = environment = stack.env(NPSTODAY_API_URL=fake_url)
        keys = accounts.prepare(environment, ACCOUNTS)
        running, port = processes.platform()
        _warm_up(keys, port, fake_url)

        groups = {name: p.pids for name, p in running.items()}
        meter = stack.CpuMeter(**groups, postgres=stack.postgres_pids, fake=fake.pids)
        requests, csids = closes.requests(keys, RATE * SECONDS, port)
        meter.start()
        result = load.open_loop("127.0.0.1", port, requests, RATE)
        arrived = _wait_for(fake_url, csids, 60)
        cpu = meter.stop()
        raw = _figures(result, csids, arrived, cpu)
        raw["per_key_peak"] = closes.per_key_peak(fake_url)
    finally:
        processes.stop()
    return render(raw), raw


def _warm_up(keys: list[str], port: int, fake_url: str) -> None:
    """A few closes first (connections, prepared statements, imports), then a clean fake."""
    requests, csids = closes.requests(keys, 20, port)
    load.open_loop("127.0.0.1", port, requests, 10)
    _wait_for(fake_url, csids, 30)
    closes.reset(fake_url)


def _wait_for(url: str, csids: list[int], timeout: float) -> dict[int, float]:
    deadline = time.monotonic() + timeout
    while True:
        arrived = closes.arrivals(url)
        if all(c in arrived for c in csids) or time.monotonic() > deadline:
            return arrived
        time.sleep(0.5)


def _figures(result: load.Result, csids: list[int], arrived: dict, cpu: dict) -> dict:
    due = {c: result.started_wall + i / RATE for i, c in enumerate(csids)}
    latencies = [(arrived[c] - due[c]) * 1000 for c in csids if c in arrived]
    with psycopg.connect(stack.PG_URL) as conn:
        rows = conn.execute(
            """
            SELECT e.csid, extract(epoch FROM e.received_at),
                   extract(epoch FROM t.sending_started_at),
                   extract(epoch FROM e.processed_at - e.received_at) * 1000,
                   """
            + ", ".join(f"extract(epoch FROM {sql}) * 1000" for _, sql in STAGES if sql)
            + """
            FROM integrations_inboundevent e
            LEFT JOIN ivr_surveytrigger t ON t.inbound_event_id = e.id
            WHERE e.csid = ANY(%s)
            """,
            [csids],
        ).fetchall()
    stages: dict[str, list[float]] = {label: [] for label, _ in STAGES}
    processing = []
    for csid, received, sending, processed_ms, *middle in rows:
        stages[STAGES[0][0]].append((float(received) - due[csid]) * 1000)
        if sending is not None and csid in arrived:
            stages[STAGES[-1][0]].append((arrived[csid] - float(sending)) * 1000)
        for (label, _), value in zip(STAGES[1:-1], middle, strict=True):
            if value is not None:
                stages[label].append(float(value))
        if processed_ms is not None:
            processing.append(float(processed_ms))
    closes_sent = len(csids)
    return {
        "closes": closes_sent,
        "arrived": len(latencies),
        "ingest_statuses": result.statuses,
        "ingest_latency_ms": spread(result.latencies_ms),
        "latency_ms": spread(latencies),
        "stages_ms": {label: spread(values) for label, values in stages.items()},
        "processed_minus_received_ms": spread(processing),
        "cpu_ms_per_close": {name: s / closes_sent * 1000 for name, s in cpu.items()},
    }


def render(raw: dict) -> str:
    lat = raw["latency_ms"]
    ok50, ok99 = lat["p50"] <= P50_GOAL_MS, lat["p99"] <= P99_GOAL_MS
    raw["summary"] = [
        ["relay: close → nps.today member, p50", f"{ms(lat['p50'])} ms", "≤ 25 ms", ok50],
        ["relay: close → nps.today member, p99", f"{ms(lat['p99'])} ms", "≤ 250 ms", ok99],
    ]
    cpu = raw["cpu_ms_per_close"]
    return "\n".join(
        [
            "## 2. Relay end to end: a close becomes an nps.today campaign member",
            "",
            "Command: `make bench BENCH_ARGS=relay`. Raw: `bench/out/relay.json`.",
            "",
            "Every process `make run` starts, from `integrations.launcher`: web (2 gthread "
            "workers × 16 threads), worker-events (Celery, queue `events`, prefork × 2), "
            "worker-http (Celery, queues `surveys,dixa`, 32 threads), beat, and the dispatcher "
            "(LISTEN/NOTIFY, 5 s fallback poll); PostgreSQL, Redis, and tests/fakes' nps.today "
            f"in its own process, answering at once. {ACCOUNTS} accounts, each with its own "
            "nps.today key and a mapping of the queue to a campaign (no delay, no quarantine). "
            f"After a warm-up of 20 closes: {raw['closes']} closes at {RATE}/s for {SECONDS} s "
            "(open loop), each a distinct conversation. Latency runs from when the POST was due "
            "to when the fake received the member.",
            "",
            *table(
                ["", "p50", "p95", "p99", "max"],
                [
                    ["close → member (ms)", *(ms(lat[k]) for k in ("p50", "p95", "p99", "max"))],
                    [
                        "ingest answer (ms)",
                        *(ms(raw["ingest_latency_ms"][k]) for k in ("p50", "p95", "p99", "max")),
                    ],
                ],
            ),
            "",
            f"p50 ≤ {P50_GOAL_MS:.0f} ms: {verdict(ok50)}; p99 ≤ {P99_GOAL_MS:.0f} ms: "
            f"{verdict(ok99)}. {raw['arrived']}/{raw['closes']} members arrived; ingest "
            f"answered {raw['ingest_statuses']}; busiest nps.today key in any one second: "
            f"{raw['per_key_peak']} requests (limit 10).",
            "",
            "Where the time goes, stage by stage (ms, from the rows' timestamps; the stages "
            "follow one another, so their medians add up to about the whole):",
            "",
            *table(
                ["stage", "p50", "p95", "p99"],
                [
                    [label, *(ms(v[k]) for k in ("p50", "p95", "p99"))]
                    for label, v in raw["stages_ms"].items()
                    if v.get("n")
                ],
            ),
            "",
            "CPU per close, by process (ms, over the whole run, warm-up excluded):",
            "",
            *table(
                ["process", "CPU ms per close"],
                [[name, f"{value:.2f}"] for name, value in cpu.items()]
                + [["total", f"{statistics.fsum(cpu.values()):.2f}"]],
            ),
            "",
        ]
    )
