"""Section 2, the relay end to end: Dixa's POST → gunicorn → dispatcher → events worker →
http worker → the fake nps.today (its own process, answering at once), on PostgreSQL and
Redis, with every process `make run` starts."""

import os
import time

import psycopg

from bench import accounts, closes, load, stack
from bench.report import NOISE, ms, spread, table, verdict

ACCOUNTS = 10  # one nps.today key each: 50/s stays under the 10/s per-key limit
RATE = 50  # the rate the goals are set for
SECONDS = 20
# First a lower rate, for the latency of the pipeline when the machine keeps up.
RUNS = {20: 8, RATE: SECONDS}  # closes/s -> seconds
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

_STAGE_COLUMNS = ", ".join(f"extract(epoch FROM {sql}) * 1000" for _, sql in STAGES if sql)
_ROWS_SQL = f"""
    SELECT e.csid, extract(epoch FROM e.received_at), extract(epoch FROM t.sending_started_at),
           extract(epoch FROM e.processed_at - e.received_at) * 1000, {_STAGE_COLUMNS}
    FROM integrations_inboundevent e LEFT JOIN ivr_surveytrigger t ON t.inbound_event_id = e.id
    WHERE e.csid = ANY(%s)
"""  # noqa: S608 - made of this module's constants


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
        raw = {"runs": {}}
        for rate, seconds in RUNS.items():
            requests, csids = closes.requests(keys, rate * seconds, port)
            meter.start()
            result = load.open_loop("127.0.0.1", port, requests, rate)
            arrived = _wait_for(fake_url, csids, 90)
            cpu = meter.stop()
            raw["runs"][rate] = _figures(result, rate, csids, arrived, cpu, meter.seconds)
        raw["per_key_peak"] = closes.per_key_peak(fake_url)
        raw["http_workers"] = sum(name.startswith("worker-http") for name in running)
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
    """Wait (reading the database, which is cheap) until every close's survey is
    delivered; then ask the fake, once, when each member arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and delivered(csids) < len(csids):
        time.sleep(0.5)
    return closes.arrivals(url)


def delivered(csids: list[int]) -> int:
    with psycopg.connect(stack.PG_URL) as conn:
        return conn.execute(
            "SELECT count(*) FROM ivr_surveytrigger WHERE status = 'delivered' AND csid = ANY(%s)",
            [csids],
        ).fetchone()[0]


def _figures(
    result: load.Result, rate: int, csids: list[int], arrived: dict, cpu: dict, seconds: float
) -> dict:
    due = {c: result.started_wall + i / rate for i, c in enumerate(csids)}
    latencies = [(arrived[c] - due[c]) * 1000 for c in csids if c in arrived]
    with psycopg.connect(stack.PG_URL) as conn:
        rows = conn.execute(_ROWS_SQL, [csids]).fetchall()
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
        "cores": {name: s / seconds for name, s in cpu.items()},
        "seconds": seconds,
    }


def render(raw: dict) -> str:
    runs = raw["runs"]
    lat = runs[RATE]["latency_ms"]
    ok50, ok99 = lat["p50"] <= P50_GOAL_MS, lat["p99"] <= P99_GOAL_MS
    raw["summary"] = [
        [f"relay at {RATE}/s: close → member, p50", f"{ms(lat['p50'])} ms", "≤ 25 ms", ok50],
        [f"relay at {RATE}/s: close → member, p99", f"{ms(lat['p99'])} ms", "≤ 250 ms", ok99],
    ]
    names = [f"{rate}/s" for rate in runs]
    cpu_names = list(runs[RATE]["cpu_ms_per_close"])
    return "\n".join(
        [
            "## 2. Relay end to end: a close becomes an nps.today campaign member",
            "",
            "Command: `make bench BENCH_ARGS=relay`. Raw: `bench/out/relay.json`.",
            "",
            "Every process `make run` starts, from `integrations.launcher`: web (2 gthread "
            "workers × 16 threads), worker-events (Celery, queue `events`, 2 threads), "
            f"{raw['http_workers']} × worker-http (one per core; Celery, queues "
            "`surveys,dixa`, 32 threads, 20 sender threads), beat, "
            "and the dispatcher (LISTEN/NOTIFY, 5 s fallback poll; while 4 handed-off events "
            "wait for a worker it holds new ones back, which then go up to 5 to a message); "
            "PostgreSQL, Redis, and tests/fakes' nps.today "
            f"in its own process, answering at once. {ACCOUNTS} accounts, each with its own "
            "nps.today key and a mapping of the queue to a campaign (no delay, no quarantine). "
            "After a warm-up of 20 closes: "
            + " then ".join(
                f"{r['closes']} closes at {rate}/s ({RUNS[rate]} s)" for rate, r in runs.items()
            )
            + ", open loop, each a distinct conversation, each run drained before the next. "
            "Latency runs from when the POST was due to when the fake received the member.",
            "",
            *table(
                ["close → member (ms)", "p50", "p95", "p99", "max", "arrived", "ingest answers"],
                [
                    [
                        f"at {rate}/s",
                        *(ms(r["latency_ms"][k]) for k in ("p50", "p95", "p99", "max")),
                        f"{r['arrived']}/{r['closes']}",
                        r["ingest_statuses"],
                    ]
                    for rate, r in runs.items()
                ],
            ),
            "",
            f"At {RATE}/s: p50 ≤ {P50_GOAL_MS:.0f} ms {verdict(ok50)}; p99 ≤ "
            f"{P99_GOAL_MS:.0f} ms {verdict(ok99)}. Busiest nps.today key in any one second: "
            f"{raw['per_key_peak']} requests (limit 10). {_limit(runs[RATE])}",
            "",
            "Where the time goes, stage by stage (p50 / p99 in ms, from the rows' timestamps; "
            "the stages follow one another; a worker claims its whole batch at once, so under "
            "load an event's or survey's wait for the ones before it in its batch counts in "
            "the worker's stage, not the queue's):",
            "",
            *table(
                ["stage", *names],
                [
                    [
                        label,
                        *(
                            f"{ms(r['stages_ms'][label]['p50'])} / "
                            f"{ms(r['stages_ms'][label]['p99'])}"
                            if r["stages_ms"][label].get("n")
                            else "–"
                            for r in runs.values()
                        ),
                    ]
                    for label, _ in STAGES
                ]
                + [
                    [
                        "*(event stored → outcome recorded)*",
                        *(
                            f"{ms(r['processed_minus_received_ms']['p50'])} / "
                            f"{ms(r['processed_minus_received_ms']['p99'])}"
                            for r in runs.values()
                        ),
                    ]
                ],
            ),
            "",
            "CPU per close, by process (ms; from the first POST of a run to its last member; "
            "*cores* is the CPU used over that time divided by its length):",
            "",
            *table(
                ["process", *(f"{n} ms/close" for n in names), *(f"{n} cores" for n in names)],
                [
                    [
                        name,
                        *(f"{r['cpu_ms_per_close'][name]:.2f}" for r in runs.values()),
                        *(f"{r['cores'][name]:.2f}" for r in runs.values()),
                    ]
                    for name in cpu_names
                ]
                + [
                    [
                        "**the platform and the load generator**",
                        *(f"{_ours(r['cpu_ms_per_close']):.2f}" for r in runs.values()),
                        *(f"{_ours(r['cores']):.2f}" for r in runs.values()),
                    ]
                ],
            ),
            "",
        ]
    )


def _limit(run: dict) -> str:
    """What the figures say about the machine during a run."""
    cores, per_close = run["cores"], run["cpu_ms_per_close"]
    platform = _ours(per_close) - per_close["load generator"] - per_close["fake"]
    busy = _ours(cores) + cores["rest of machine"]
    cpus = os.cpu_count()
    text = (
        f"The platform spent {platform:.1f} ms of CPU per close (its processes and "
        f"PostgreSQL), so {cpus} cores carry at most about {cpus * 1000 / platform:.0f} closes/s "
        f"with nothing else running; during this run the machine was {busy:.2f} of {cpus} "
        f"cores busy, {cores['rest of machine']:.2f} of them with other users' work."
    )
    if busy >= 0.9 * cpus:
        text += " **The cores were full**, so work queued (see the stages below)."
    return text


def _ours(values: dict[str, float]) -> float:
    return sum(v for k, v in values.items() if k not in NOISE)
